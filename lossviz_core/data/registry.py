"""The data-source registry: one small module per kind of dataset name.

A source says which dataset names it reads (``matches``) and turns a
:class:`~lossviz_core.recipe.spec.DatasetSpec` into a :class:`~lossviz_core.data.base.RawDataset`
(tensors or torch ``Dataset`` objects); :func:`lossviz_core.data.load_dataset` does the rest.
``user_code`` names the Python file whose code reading the data runs, if any.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lossviz_core.data.base import RawDataset
from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import DatasetSpec


@dataclass(frozen=True)
class DataSource:
    name: str
    label: str
    matches: Callable[[str], bool]
    load: Callable[[DatasetSpec], RawDataset]
    example: str
    user_code: Callable[[str], str | None] = lambda name: None


_SOURCES: list[DataSource] = []


def register_data_source(source: DataSource) -> DataSource:
    """Add a data source; later registrations are tried first (they may refine a prefix)."""
    _SOURCES.insert(0, source)
    return source


def data_source(name: str) -> DataSource:
    for s in _SOURCES:
        if s.matches(name):
            return s
    examples = ", ".join(s.example for s in reversed(_SOURCES))
    raise InputError(f"unknown dataset {name!r}; choose one of {examples}")


def data_sources() -> list[DataSource]:
    return list(reversed(_SOURCES))
