"""The data-source entry: one small module per kind of dataset name.

A source says which dataset names it reads (``matches``; ``name_parts``: how the window's
rows compose such a name) and turns a :class:`~lossviz_core.recipe.spec.DatasetSpec` into a
:class:`~lossviz_core.data.base.RawDataset` (tensors or torch ``Dataset`` objects);
:func:`lossviz_core.data.load_dataset` does the rest. ``user_code`` names the Python file
whose code reading the data runs, if any; ``options``: parameters of its own (stored in
``DatasetSpec.options``); ``uses``: which of the spec's common fields apply to it (the
window shows only those rows); ``model_hints``: options whose ``auto`` value follows the
model (``channels``: the input channels of its first layer), filled in before loading;
``default_loss``: the loss a recipe on this data uses unless one is chosen (``lm`` for token
data); ``unit``: what one of its examples is called (``sequences`` for token data), in
titles and messages. Sources are registered in :data:`lossviz_core.registry.DATA_SOURCES`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from lossviz_core.data.base import RawDataset
from lossviz_core.errors import InputError
from lossviz_core.params import NameParts, Param
from lossviz_core.recipe.spec import DatasetSpec
from lossviz_core.registry import DATA_SOURCES

# the DatasetSpec fields a source may use besides its name and the subsample
COMMON = ("root", "download", "transform", "size", "mean", "std", "cache", "workers")


@dataclass(frozen=True, kw_only=True)
class DataSource:
    name: str
    label: str
    matches: Callable[[str], bool]
    load: Callable[[DatasetSpec], RawDataset]
    example: str
    name_parts: NameParts = NameParts()
    options: tuple[Param, ...] = ()
    uses: tuple[str, ...] = ()
    model_hints: tuple[str, ...] = ()  # facts about the model its "auto" options follow
    user_code: Callable[[str], str | None] = lambda name: None
    default_loss: str = "ce"
    unit: str = "examples"
    help: str = ""


def register_data_source(source: DataSource) -> DataSource:
    """Add a data source; later registrations are tried first (they may refine a prefix)."""
    return DATA_SOURCES.register(source)


def data_unit(name: str | None) -> str:
    """What one example of the dataset ``name`` is called: ``examples``, or the source's
    own word (``sequences`` for token data)."""
    found = DATA_SOURCES.find(str(name)) if name else None
    return getattr(found, "unit", "examples")


def data_source(name: str) -> DataSource:
    found = DATA_SOURCES.find(name)
    if found is None:
        raise InputError(f"unknown dataset {name!r}; choose one of {DATA_SOURCES.listing()}")
    return found

