"""Code from a user's Python file: ``FILE.py:FUNCTION`` references, loaded only when named.

A model, dataset or loss may come from a function in a Python file the user names on the
command line or picks in the window (which asks once per file, showing the path). Nothing
here runs a file the user did not name: a recipe stores only the path, and
:func:`user_files` lists the files a recipe would run so a caller can ask first.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import traceback
from collections.abc import Callable
from pathlib import Path
from typing import Any

from lossviz_core.errors import InputError

REF = re.compile(r"^(?P<path>.+\.py):(?P<func>[A-Za-z_]\w*)$")
# "torchvision:x.py:y" or "tensors:x.py:y" is another source's name, not a function reference
# (a one-letter prefix is a Windows drive)
_PREFIXED = re.compile(r"^[A-Za-z][\w-]+:")
_CACHE: dict[tuple[str, float], Any] = {}


def is_function_ref(name: str) -> bool:
    """Whether ``name`` is ``FILE.py:FUNCTION``."""
    return bool(REF.match(str(name))) and not _PREFIXED.match(str(name))


def split_ref(ref: str) -> tuple[Path, str]:
    """``("FILE.py", "FUNCTION")`` of a reference; InputError if it is not one."""
    m = REF.match(str(ref))
    if not m:
        raise InputError(f"expected FILE.py:FUNCTION, got {ref!r}")
    return Path(m.group("path")).expanduser(), m.group("func")


def user_file(name: str) -> str | None:
    """The file a reference would run (resolved), or None when ``name`` is not one."""
    if not is_function_ref(name):
        return None
    return str(split_ref(name)[0].resolve())


def load_module(path: str | Path) -> Any:
    """Import a Python file as a module (cached until the file changes)."""
    path = Path(path).expanduser().resolve()
    if not path.is_file():
        raise InputError(f"Python file not found: {path}")
    key = (str(path), path.stat().st_mtime)
    if key in _CACHE:
        return _CACHE[key]
    name = f"lossviz_user_{abs(hash(str(path)))}"
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise InputError(f"cannot import {path} as a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pickling look modules up by name
    try:
        spec.loader.exec_module(module)
    except Exception as exc:  # noqa: BLE001 - the user's code: say where it failed, in one line
        sys.modules.pop(name, None)
        raise InputError(f"{path} failed to import: {_where(exc, path)}") from None
    _CACHE[key] = module
    return module


def load_function(ref: str, what: str = "function") -> Callable[..., Any]:
    """The function ``FUNCTION`` of ``FILE.py`` (``what`` names it in messages)."""
    path, func = split_ref(ref)
    module = load_module(path)
    fn = getattr(module, func, None)
    if not callable(fn):
        names = sorted(n for n, v in vars(module).items() if callable(v) and not n.startswith("_")
                       and getattr(v, "__module__", None) == module.__name__)
        raise InputError(f"{path} has no {what} function {func!r}"
                         + (f"; it defines {', '.join(names[:8])}" if names else ""))
    return fn


def call_user(fn: Callable[..., Any], ref: str, *args: Any, **kwargs: Any) -> Any:
    """Call a user's function; its exception becomes one line naming the file and line."""
    try:
        return fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001
        raise InputError(f"{ref} failed: {_where(exc, split_ref(ref)[0])}") from None


def _where(exc: BaseException, path: Path) -> str:
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if Path(f.filename).resolve() == Path(path).resolve()]
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"line {exc.lineno}: {exc.msg}"
    line = f"line {frames[-1].lineno}: " if frames else ""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{line}{type(exc).__name__}: {text}" if text else f"{line}{type(exc).__name__}"
