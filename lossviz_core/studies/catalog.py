"""Finding a study: a file, a bundled study by name, or the study a figure carries.

The bundled studies are TOML files installed with the package (``bundled/*.toml``):
``digits-depth`` (minutes on a laptop CPU) and ``seed-report`` (the seed report's CIFAR-10
set, hours on one GPU). A figure a study drew carries the study's text in its metadata, so
``load_study("depth.png")`` reads that study back and a reader can regenerate the figure.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from lossviz_core.errors import InputError
from lossviz_core.studies.spec import Study, parse_study
from lossviz_core.studies.toml_text import StudyError

BUNDLED = Path(__file__).resolve().parent / "bundled"
FIGURE_SUFFIXES = (".png", ".pdf", ".svg")


@dataclass(frozen=True)
class BundledStudy:
    """A study shipped with LossViz: its name, one-line description and file."""

    name: str
    description: str
    path: Path


def bundled_studies() -> list[BundledStudy]:
    """The bundled studies, by name."""
    out = []
    for path in sorted(BUNDLED.glob("*.toml")):
        study = parse_study(path.read_text(encoding="utf-8"), path)
        out.append(BundledStudy(path.stem, study.description, path))
    return out


def default_folder_name(study: Study) -> str:
    """The folder a study's outputs go to when none is named: ``NAME``, or ``NAME-PROFILE``
    for a profile (its smaller outputs never overwrite the full study's figures)."""
    return study.name + (f"-{study.profile}" if study.profile else "")


def study_path(name_or_path: str | Path) -> Path:
    """The file a study argument names: an existing path, else a bundled study's name."""
    p = Path(name_or_path).expanduser()
    if p.is_file():
        return p
    bundled = BUNDLED / f"{name_or_path}.toml"
    if not str(name_or_path).endswith(".toml") and bundled.is_file():
        return bundled
    names = ", ".join(b.stem for b in sorted(BUNDLED.glob("*.toml")))
    raise InputError(f"no study file {name_or_path!r} and no bundled study of that name "
                     f"(bundled: {names}; `lossviz study list`)")


def load_study(name_or_path: str | Path, profile: str | None = None) -> Study:
    """Read and check a study file, a bundled study (by name) or a study figure's study.

    ``profile``: merge that ``[profiles.NAME]`` table over the study (``quick``: the
    bundled studies' small versions). A figure's study keeps the profile it was drawn with
    unless another is given."""
    path = study_path(name_or_path)
    if path.suffix.lower() in FIGURE_SUFFIXES:
        return _from_figure(path, profile)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read study file {path}: {exc}") from None
    return parse_study(text, path, profile)


def _from_figure(path: Path, profile: str | None) -> Study:
    from lossviz_core.studies.figures import read_figure_specs

    specs = read_figure_specs(path)
    study = specs.get("study") if isinstance(specs, dict) else None
    if not isinstance(study, dict) or not isinstance(study.get("text"), str):
        raise StudyError(f"{path} was not drawn by a study: it carries no study file")
    origin = study.get("file")
    where = Path(origin) if isinstance(origin, str) and Path(origin).is_file() else path
    stored = study.get("profile")
    return parse_study(study["text"], where, profile or (stored if isinstance(stored, str)
                                                         else None),
                       label=f"{path.name} (study {study.get('name', '')})")
