"""Parameters a registry entry declares: the one description of a user's choice.

A model source, data kind, loss, direction method or measure lists the parameters it owns
(:class:`Param`: name, kind, default, choices, label, help, title fragment, which are file
paths and which name code). Every layer that offers the choice is generated from it: the
command line's flags, the window's panel rows, a study's keys, titles, ``lossviz info`` and
the recipe's validation (:meth:`Param.coerce`). The engine stores the values in the
entry's ``params`` (``DirectionSpec.params``, ``DatasetSpec.options``, ...) by name.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lossviz_core.errors import InputError

# kinds of values; the path kinds are made absolute and checked where they enter a recipe
KINDS = ("str", "int", "float", "bool", "floats", "file", "folder", "path", "code")
PATH_KINDS = ("file", "folder", "path", "code")


@dataclass(frozen=True)
class Param:
    """One choice an entry owns.

    ``name``: the key in the entry's params, the resolver's choice, the study key and (with
    ``-`` for ``_``) the command-line flag unless ``flag`` says otherwise. ``kind``: one of
    :data:`KINDS` (``file``/``folder``/``path``: made absolute, must exist unless
    ``must_exist`` is False; ``code``: a Python file whose code runs, asked for like every
    user code). ``choices``: allowed values (or a function that lists them). ``title``: the
    fragment a figure's title shows, ``{}`` for the value (``None``: not in titles).
    ``selects``: giving this parameter chooses its entry (``--checkpoint2`` → interpolation).
    """

    name: str
    kind: str = "str"
    default: Any = None
    choices: Sequence[Any] | Callable[[], Sequence[Any]] = ()
    label: str = ""
    help: str = ""
    flag: str | None = None
    title: str | None = None
    metavar: str | None = None
    must_exist: bool = True
    selects: bool = False
    minimum: float | None = None
    portable: bool = False  # a self-contained file read whole: it may travel by value (Ray)
    suggestions: Callable[[], Sequence[Any]] | None = None  # offered in the window, not enforced

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"parameter {self.name}: unknown kind {self.kind!r}")

    @property
    def is_path(self) -> bool:
        return self.kind in PATH_KINDS

    @property
    def is_code(self) -> bool:
        return self.kind == "code"

    @property
    def cli_flag(self) -> str:
        return "--" + (self.flag or self.name.replace("_", "-"))

    def allowed(self) -> tuple[Any, ...]:
        c = self.choices
        return tuple(c() if callable(c) else c)

    def coerce(self, value: Any, absolute: bool = True) -> Any:
        """``value`` as this parameter holds it (text from a flag, a panel or a TOML file is
        parsed); a one-line :class:`InputError` naming the flag when it does not fit.
        ``absolute``: paths are made absolute (and checked when ``must_exist``)."""
        if value is None or (value == "" and self.kind != "str"):
            return None
        try:
            v = _parse(self.kind, value)
        except (TypeError, ValueError):
            raise InputError(f"{self.cli_flag}: expected {_WANTS[self.kind]}, got {value!r}"
                             ) from None
        allowed = self.allowed()
        if allowed and v not in allowed:
            raise InputError(f"{self.cli_flag}: unknown value {v!r}; choose one of "
                             f"{', '.join(map(str, allowed))}")
        if self.minimum is not None and v < self.minimum:
            raise InputError(f"{self.cli_flag} must be >= {self.minimum:g}, got {v}")
        if self.is_path and absolute:
            p = Path(str(v)).expanduser()
            if self.must_exist and not p.exists():
                raise InputError(f"{self.label or self.name} not found: {v}")
            v = str(p.resolve())
        return v

    def shown(self, value: Any) -> str:
        """The title fragment for ``value`` (a caller shortens paths as it sees fit)."""
        text = ",".join(map(str, value)) if isinstance(value, (list, tuple)) else value
        return (self.title or "{}").format(text)


_WANTS = {"str": "text", "int": "a whole number", "float": "a number", "bool": "true or false",
          "floats": "numbers separated by commas", "file": "a file", "folder": "a folder",
          "path": "a path", "code": "a Python file"}


def _parse(kind: str, value: Any) -> Any:
    if kind == "int":
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError(value)
        return int(value)
    if kind == "float":
        if isinstance(value, bool):
            raise ValueError(value)
        return float(value)
    if kind == "bool":
        if isinstance(value, str):
            low = value.strip().lower()
            if low not in ("1", "0", "true", "false", "yes", "no", "on", "off"):
                raise ValueError(value)
            return low in ("1", "true", "yes", "on")
        return bool(value)
    if kind == "floats":
        items = value.replace(",", " ").split() if isinstance(value, str) else value
        return tuple(float(t) for t in items)
    return str(value)


def params_by_name(params: Sequence[Param]) -> dict[str, Param]:
    return {p.name: p for p in params}


def coerce_params(params: Sequence[Param], values: Mapping[str, Any], owner: str,
                  absolute: bool = True) -> dict[str, Any]:
    """The values of ``params`` among ``values`` (unknown keys are an error naming ``owner``),
    coerced; parameters not given are left out (their default applies)."""
    known = params_by_name(params)
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise InputError(f"{owner} has no parameter {', '.join(unknown)}"
                         + (f"; it takes {', '.join(known)}" if known else ""))
    out = {}
    for name, value in values.items():
        v = known[name].coerce(value, absolute=absolute)
        if v is not None:
            out[name] = v
    return out


def value_of(params: Sequence[Param], given: Mapping[str, Any], name: str) -> Any:
    """``given[name]``, else the parameter's default."""
    if name in given:
        return given[name]
    return params_by_name(params)[name].default


@dataclass(frozen=True)
class NameParts:
    """How a source's parameters are written into its name (``--model`` / ``--dataset``).

    ``prefix`` + the one parameter's value (``torchvision:resnet18``, ``tensors:FILE.npz``;
    an empty prefix: the value is the name, as a zoo name); or, with ``function``, two
    parameters written ``FILE.py:FUNCTION``. The window shows one row per parameter and
    composes the name; :meth:`split` reads a name back into the rows.
    """

    params: tuple[Param, ...] = ()
    prefix: str = ""
    function: bool = False
    inner_prefixes: tuple[str, ...] = ()  # may start a path value (torchscript:FILE)

    def compose(self, values: Mapping[str, Any]) -> str:
        if self.function:
            file, func = (str(values.get(p.name) or "") for p in self.params[:2])
            return f"{file}:{func}"
        return self.prefix + str(values.get(self.params[0].name) or "") if self.params else \
            self.prefix

    def split(self, name: str) -> dict[str, Any]:
        if self.function:
            from lossviz_core.usercode import REF

            m = REF.match(str(name))
            file, func = (m.group("path"), m.group("func")) if m else (str(name), "")
            return {self.params[0].name: file, self.params[1].name: func}
        if not self.params:
            return {}
        return {self.params[0].name: str(name)[len(self.prefix):]
                if str(name).startswith(self.prefix) else str(name)}

    def paths(self, name: str) -> dict[str, str]:
        """``{parameter: path}`` for the file parameters written in ``name``."""
        values = self.split(name)
        return {p.name: self._bare(str(values[p.name])) for p in self.params
                if p.is_path and values.get(p.name)}

    def _bare(self, value: str) -> str:
        return next((value[len(k):] for k in self.inner_prefixes if value.startswith(k)), value)

    def with_paths(self, name: str, fix: Callable[[Param, str], str]) -> str:
        """``name`` with each file parameter replaced by ``fix(param, path)`` (made absolute,
        relative to a study's folder, or a copy on a Ray worker's disk)."""
        paths = self.paths(name)
        if not paths:
            return name
        values = self.split(name)
        for p in self.params:
            if p.name in paths:
                inner = str(values[p.name])[:len(str(values[p.name])) - len(paths[p.name])]
                values[p.name] = inner + fix(p, paths[p.name])
        return self.compose(values)
