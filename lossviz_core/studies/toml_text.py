"""A study file's TOML text: parsed, with the line of every key, and one-line errors.

``tomllib`` reports the line of a syntax error but keeps no positions for the values it
parsed, so a semantic error ("``models.big.epochs``: expected a whole number") finds its
line here by scanning the text once: table headers (``[a."b c"]``), ``key = value`` lines
(dotted keys too) and the keys of one-line inline tables (``sweep = { depth = [6, 14] }``).
That is all a study file needs; a key it cannot place gets the line of its nearest parent.

Every error is :class:`StudyError` (an ``InputError``) with one line::

    digits-depth.toml:12: models.small.epochs: expected a whole number, got 'ten'
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from lossviz_core.errors import InputError

try:
    import tomllib
except ImportError:  # Python 3.10: tomli is the same parser
    import tomli as tomllib

KeyPath = tuple[str, ...]


class StudyError(InputError):
    """A malformed study file: one line naming the file, the line and the key path."""


@dataclass
class Source:
    """The text of a study file, its parsed tree and where each key is written."""

    text: str
    label: str  # the file's name as errors show it
    tree: dict[str, Any] = field(default_factory=dict)
    lines: dict[KeyPath, int] = field(default_factory=dict)
    # a value merged in from a profile is found at its own key path there
    origin: dict[KeyPath, KeyPath] = field(default_factory=dict)

    def line_of(self, path: Sequence[str]) -> int | None:
        """The line where ``path`` (or its nearest written parent) is written."""
        path = tuple(path)
        while path:
            where = self._origin(path)
            if where in self.lines:
                return self.lines[where]
            path = path[:-1]
        return None

    def _origin(self, path: KeyPath) -> KeyPath:
        for _ in range(8):  # an expanded entry → its template → a default or a profile
            for n in range(len(path), 0, -1):  # the longest mapped prefix decides
                if path[:n] in self.origin and self.origin[path[:n]] != path[:n]:
                    path = self.origin[path[:n]] + path[n:]
                    break
            else:
                return path
        return path

    def error(self, path: Sequence[str], message: str) -> StudyError:
        """The one-line error for ``message`` about the key ``path``."""
        line = self.line_of(path)
        where = f"{self.label}:{line}" if line else self.label
        key = dotted(path)
        return StudyError(f"{where}: {key}: {message}" if key else f"{where}: {message}")


def parse_source(text: str, label: str = "study") -> Source:
    """Parse ``text`` as TOML; a syntax error is one line naming its line and key."""
    src = Source(text=text, label=label, lines=key_lines(text))
    try:
        src.tree = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        msg = str(exc).splitlines()[0]
        m = re.search(r"line (\d+)", msg)
        line = int(m.group(1)) if m else None
        key = _key_at(text, line) if line else ()
        where = f"{label}:{line}" if line else label
        prefix = f"{dotted(key)}: " if key else ""
        raise StudyError(f"{where}: {prefix}invalid TOML: {msg}") from None
    return src


def dotted(path: Sequence[str]) -> str:
    """``('models', 'a b', 'epochs')`` as ``models."a b".epochs`` (TOML's own spelling)."""
    return ".".join(p if re.fullmatch(r"[A-Za-z0-9_-]+", p) else f'"{p}"' for p in path)


def key_lines(text: str) -> dict[KeyPath, int]:
    """Every key path written in ``text`` → its (first) line number, 1-based."""
    lines: dict[KeyPath, int] = {}
    table: KeyPath = ()
    for number, raw in enumerate(text.splitlines(), 1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        header = re.fullmatch(r"\[\[?(.*?)\]\]?", line)
        if header and "=" not in line.split("]")[0]:
            table = _split_key(header.group(1))
            _record(lines, table, number)
            continue
        key, sep, value = line.partition("=")
        if not sep or not re.fullmatch(r'\s*[A-Za-z0-9_\-."\' ]+\s*', key):
            continue  # a continuation line of a multi-line array or string
        path = table + _split_key(key)
        _record(lines, path, number)
        for inner in re.findall(r'[{,]\s*([A-Za-z0-9_\-]+|"[^"]*")\s*=', value):
            lines.setdefault(path + _split_key(inner), number)
    return lines


def _record(lines: dict[KeyPath, int], path: KeyPath, number: int) -> None:
    for n in range(1, len(path) + 1):
        lines.setdefault(path[:n], number)


def _key_at(text: str, line: int) -> KeyPath:
    """The key path written on ``line`` (or the table it is in), for a syntax error."""
    table: KeyPath = ()
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = _strip_comment(raw).strip()
        header = re.fullmatch(r"\[\[?(.*?)\]\]?", stripped)
        key = stripped.partition("=")[0]
        if number == line:
            if header:
                return _split_key(header.group(1))
            if "=" in stripped and re.fullmatch(r'\s*[A-Za-z0-9_\-."\' ]+\s*', key):
                return table + _split_key(key)
            return table
        if header:
            table = _split_key(header.group(1))
    return table


def _split_key(text: str) -> KeyPath:
    """A (dotted, possibly quoted) TOML key as its parts."""
    parts = re.findall(r'"((?:[^"\\]|\\.)*)"|\'([^\']*)\'|([^.\s"\']+)', text.strip())
    return tuple(a or b or c for a, b, c in parts)


def _strip_comment(line: str) -> str:
    """``line`` without a trailing ``# comment`` (a ``#`` inside a string is kept)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote and line[i - 1] != "\\":
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch == "#":
            return line[:i]
    return line
