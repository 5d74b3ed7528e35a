"""The freedesktop launcher: what `lossviz --install-desktop-entry` writes, and removes."""

from __future__ import annotations

import configparser
import os
import shutil
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from lossviz.__main__ import main
from lossviz.desktop import (
    data_home,
    exec_line,
    install_desktop_entry,
    launcher_command,
    quote_exec_arg,
    uninstall_desktop_entry,
)
from lossviz.icon import SIZES, icon_path

from lossviz_core.errors import InputError


def unescape_string(value: str) -> str:
    """Undo the Desktop Entry 'string' escapes (\\s \\n \\t \\r \\\\), as a launcher does first."""
    out, i = [], 0
    table = {"s": " ", "n": "\n", "t": "\t", "r": "\r", "\\": "\\"}
    while i < len(value):
        if value[i] == "\\" and i + 1 < len(value) and value[i + 1] in table:
            out.append(table[value[i + 1]])
            i += 2
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def split_exec(value: str) -> list[str]:
    """Split an Exec value into argv the way the spec tells a launcher to (independent of ours)."""
    text, args, i = unescape_string(value), [], 0
    while i < len(text):
        if text[i] == " ":
            i += 1
            continue
        arg = []
        if text[i] == '"':
            i += 1
            while text[i] != '"':
                if text[i] == "\\" and text[i + 1] in '"`$\\':
                    i += 1
                arg.append(text[i])
                i += 1
            i += 1
        else:
            while i < len(text) and text[i] != " ":
                arg.append(text[i])
                i += 1
        args.append("".join(arg).replace("%%", "%"))
    return args


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR chunk."""
    head = path.read_bytes()[:24]
    assert head[:8] == b"\x89PNG\r\n\x1a\n", f"{path} is not a PNG"
    return struct.unpack(">II", head[16:24])


def read_entry(path: Path) -> configparser.SectionProxy:
    parser = configparser.ConfigParser(interpolation=None, strict=True)
    parser.optionxform = str  # keys are case-sensitive in desktop files
    parser.read_string(path.read_text(encoding="utf-8"))
    return parser["Desktop Entry"]


def test_install_writes_a_valid_launcher_and_every_icon(tmp_path: Path) -> None:
    written = install_desktop_entry(tmp_path)
    desktop = tmp_path / "applications" / "lossviz.desktop"
    hicolor = tmp_path / "icons" / "hicolor"
    expected = {desktop, hicolor / "scalable" / "apps" / "lossviz.svg"}
    expected |= {hicolor / f"{s}x{s}" / "apps" / "lossviz.png" for s in SIZES}
    assert set(written) == expected
    for size in SIZES:
        assert png_size(hicolor / f"{size}x{size}" / "apps" / "lossviz.png") == (size, size)
    svg = (hicolor / "scalable" / "apps" / "lossviz.svg").read_text(encoding="utf-8")
    assert svg == icon_path().read_text(encoding="utf-8")

    validator = shutil.which("desktop-file-validate")
    if validator:
        run = subprocess.run([validator, str(desktop)], capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        assert "error" not in (run.stdout + run.stderr).lower()

    entry = read_entry(desktop)
    assert entry["Type"] == "Application"
    assert entry["Name"] == "LossViz"
    assert entry["Icon"] == "lossviz"
    assert entry["Terminal"] == "false"
    assert entry["Categories"].endswith(";")
    assert {"Science", "Education", "DataVisualization"} <= set(entry["Categories"].split(";"))
    command = split_exec(entry["Exec"])
    assert command == launcher_command()
    assert os.path.isabs(command[0]) and os.access(command[0], os.X_OK)
    assert unescape_string(entry["TryExec"]) == command[0]


@pytest.mark.parametrize(
    "args",
    [
        ["/opt/Loss Viz/bin/lossviz"],
        ["/home/a$b/`x`/py", "-m", "lossviz"],
        ['/tmp/q"uote\\back', "50%", "", "x=y", "it's"],
    ],
)
def test_exec_quoting_round_trips(args: list[str]) -> None:
    line = exec_line(args)
    assert split_exec(line) == args
    assert "%" not in line.replace("%%", "")  # no stray field codes


def test_plain_arguments_stay_unquoted() -> None:
    assert quote_exec_arg("/usr/bin/lossviz") == "/usr/bin/lossviz"
    assert quote_exec_arg("a b") == '"a b"'


def test_frozen_bundle_launches_itself(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    exe = tmp_path / "LossViz"
    monkeypatch.setattr(sys, "frozen", True, raising=False)
    monkeypatch.setattr(sys, "executable", str(exe))
    assert launcher_command() == [str(exe)]


def test_without_a_launcher_script_uses_python_m(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import sysconfig

    monkeypatch.setattr(sysconfig, "get_path", lambda *a, **k: str(tmp_path))
    assert launcher_command() == [os.path.abspath(sys.executable), "-m", "lossviz"]


def test_uninstall_removes_only_our_files(tmp_path: Path) -> None:
    written = install_desktop_entry(tmp_path)
    neighbour = tmp_path / "icons" / "hicolor" / "48x48" / "apps" / "other.png"
    neighbour.write_bytes(b"not ours")
    removed = uninstall_desktop_entry(tmp_path)
    assert set(removed) == set(written)
    assert not any(p.exists() for p in written)
    assert neighbour.read_bytes() == b"not ours"
    assert not (tmp_path / "icons" / "hicolor" / "512x512").exists()  # emptied folders go
    assert uninstall_desktop_entry(tmp_path) == []


def test_default_prefix_follows_xdg_data_home(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert data_home() == tmp_path / "xdg"
    install_desktop_entry()
    assert (tmp_path / "xdg" / "applications" / "lossviz.desktop").is_file()
    monkeypatch.setenv("XDG_DATA_HOME", "relative/ignored")  # the spec: ignore a relative value
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert data_home() == tmp_path / "home" / ".local" / "share"


def test_unwritable_prefix_is_a_one_line_user_error(tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with pytest.raises(InputError, match="cannot install the desktop entry under"):
        install_desktop_entry(blocker)


def test_a_missing_template_is_reported_before_writing(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import lossviz.desktop

    monkeypatch.setattr(lossviz.desktop, "TEMPLATE", tmp_path / "gone.desktop.in")
    with pytest.raises(InputError, match="lacks .*gone.desktop.in; reinstall LossViz"):
        install_desktop_entry(tmp_path / "prefix")
    assert not (tmp_path / "prefix").exists()


def test_command_line_flags(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from lossviz import __version__

    assert main(["--version"]) == 0
    assert capsys.readouterr().out == f"LossViz {__version__}\n"
    assert main(["--install-desktop-entry", "--prefix", str(tmp_path)]) == 0
    assert (tmp_path / "applications" / "lossviz.desktop").is_file()
    assert main(["--uninstall-desktop-entry", "--prefix", str(tmp_path)]) == 0
    assert not (tmp_path / "applications" / "lossviz.desktop").exists()
    capsys.readouterr()
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    assert main(["--install-desktop-entry", "--prefix", str(blocker)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("lossviz: error: ") and err.count("\n") == 1
