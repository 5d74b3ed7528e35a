"""Install LossViz into the desktop menu: a freedesktop .desktop launcher plus the icons.

``lossviz --install-desktop-entry [--prefix DIR]`` writes, under DIR (default
$XDG_DATA_HOME, else ~/.local/share):

    applications/lossviz.desktop
    icons/hicolor/<n>x<n>/apps/lossviz.png      for every size in lossviz.icon.SIZES
    icons/hicolor/scalable/apps/lossviz.svg

``--uninstall-desktop-entry`` removes exactly those files. Deliberately Qt-free (only
paths are needed), so it runs without a display.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

from lossviz.icon import ICON_NAME as APP_ID  # desktop file id == icon name == desktopFileName
from lossviz.icon import SIZES, icon_path
from lossviz_resources import ROOT

from lossviz_core.errors import InputError

TEMPLATE = ROOT / "lossviz.desktop.in"

# Characters that force an Exec argument into double quotes (Desktop Entry spec, "The Exec key");
# '=' is quoted too, as desktop-file-validate rejects it unquoted.
_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`=")


def data_home(prefix: str | os.PathLike[str] | None = None) -> Path:
    """The XDG data folder to install into: ``prefix``, $XDG_DATA_HOME, or ~/.local/share."""
    if prefix is not None:
        return Path(prefix).expanduser().absolute()
    env = os.environ.get("XDG_DATA_HOME", "")
    # The spec says a relative $XDG_DATA_HOME is invalid and must be ignored.
    if env and os.path.isabs(env):
        return Path(env)
    return Path.home() / ".local" / "share"


def launcher_command() -> list[str]:
    """The command that starts the GUI: the frozen bundle, the installed `lossviz`, or python -m."""
    if getattr(sys, "frozen", False):
        return [os.path.abspath(sys.executable)]
    schemes = [None, f"{os.name}_user"]  # this environment's scripts dir, then pip --user's
    for scheme in schemes:
        try:
            scripts = (
                sysconfig.get_path("scripts", scheme) if scheme else sysconfig.get_path("scripts")
            )
        except KeyError:
            continue
        candidate = Path(scripts) / ("lossviz.exe" if os.name == "nt" else "lossviz")
        if candidate.is_file() and os.access(candidate, os.X_OK):
            return [str(candidate.absolute())]
    # Not resolved: keep a venv's python symlink as is, resolving it would leave the venv.
    return [os.path.abspath(sys.executable), "-m", "lossviz"]


def quote_exec_arg(arg: str) -> str:
    """One Exec argument, quoted per the Desktop Entry spec and escaped as a string value."""
    arg = arg.replace("%", "%%")  # a literal '%' is written '%%' (field codes)
    if arg and not (_RESERVED & set(arg)):
        return arg
    quoted = "".join("\\" + c if c in '"`$\\' else c for c in arg)
    # The string-value escape is applied on top of the quoting rule: every '\' is doubled again.
    return '"' + quoted.replace("\\", "\\\\") + '"'


def exec_line(command: list[str]) -> str:
    """The Exec value for ``command`` (each argument quoted as needed)."""
    return " ".join(quote_exec_arg(a) for a in command)


def _escape_string(value: str) -> str:
    """A 'string'-typed value (TryExec): escape backslashes and control characters."""
    return (
        value.replace("\\", "\\\\").replace("\n", "\\n").replace("\t", "\\t").replace("\r", "\\r")
    )


def desktop_entry_text(command: list[str] | None = None) -> str:
    """The lossviz.desktop contents for ``command`` (default: launcher_command())."""
    command = command or launcher_command()
    text = TEMPLATE.read_text(encoding="utf-8")
    return text.replace("@TRYEXEC@", _escape_string(command[0])).replace(
        "@EXEC@", exec_line(command)
    )


def entry_paths(prefix: str | os.PathLike[str] | None = None) -> dict[Path, Path]:
    """{destination: source} for the desktop file's icons, plus the desktop file (source = template)."""
    root = data_home(prefix)
    hicolor = root / "icons" / "hicolor"
    paths: dict[Path, Path] = {root / "applications" / f"{APP_ID}.desktop": TEMPLATE}
    for size in SIZES:
        paths[hicolor / f"{size}x{size}" / "apps" / f"{APP_ID}.png"] = icon_path(size)
    paths[hicolor / "scalable" / "apps" / f"{APP_ID}.svg"] = icon_path()
    return paths


def install_desktop_entry(prefix: str | os.PathLike[str] | None = None) -> list[Path]:
    """Write the launcher and icons under ``prefix``; return the files written."""
    root = data_home(prefix)
    missing = [src for src in entry_paths(prefix).values() if not src.is_file()]
    if missing:  # a packaging fault, said before anything is written
        raise InputError(f"this LossViz installation lacks {missing[0]}; reinstall LossViz")
    written: list[Path] = []
    try:
        for dest, source in entry_paths(prefix).items():
            dest.parent.mkdir(parents=True, exist_ok=True)
            tmp = dest.with_name(dest.name + ".tmp")
            if source == TEMPLATE:
                tmp.write_text(desktop_entry_text(), encoding="utf-8")
            else:
                shutil.copyfile(source, tmp)
            tmp.chmod(0o644)
            os.replace(tmp, dest)  # atomic: a menu never reads a half-written launcher
            written.append(dest)
    except OSError as err:
        raise InputError(
            f"cannot install the desktop entry under {root}: {err.strerror or err}"
        ) from None
    _refresh_caches(root)
    return written


def uninstall_desktop_entry(prefix: str | os.PathLike[str] | None = None) -> list[Path]:
    """Remove the launcher and icons installed under ``prefix``; return the files removed."""
    root = data_home(prefix)
    removed: list[Path] = []
    try:
        for dest in entry_paths(prefix):
            if dest.is_file() or dest.is_symlink():
                dest.unlink()
                removed.append(dest)
                _remove_empty_parents(dest.parent, stop=root)
    except OSError as err:
        raise InputError(
            f"cannot remove the desktop entry under {root}: {err.strerror or err}"
        ) from None
    if removed:
        _refresh_caches(root)
    return removed


def _remove_empty_parents(folder: Path, stop: Path) -> None:
    """Remove now-empty folders we may have created (…/48x48/apps, …/48x48), never ``stop``."""
    stop_parts = {stop / "applications", stop / "icons" / "hicolor", stop / "icons", stop}
    while folder not in stop_parts and stop in folder.parents:
        try:
            folder.rmdir()
        except OSError:
            return  # not empty: someone else's files live there too
        folder = folder.parent


def _refresh_caches(root: Path) -> None:
    """Let menus notice the change now; the tools are optional and their failure is harmless."""
    tools = [
        ("update-desktop-database", [str(root / "applications")]),
        ("gtk-update-icon-cache", ["-f", "-t", "-q", str(root / "icons" / "hicolor")]),
    ]
    for tool, args in tools:
        exe = shutil.which(tool)
        if exe is None or not Path(args[-1]).is_dir():
            continue
        try:
            subprocess.run([exe, *args], capture_output=True, timeout=30, check=False)
        except (OSError, subprocess.SubprocessError):
            pass
