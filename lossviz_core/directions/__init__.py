"""Directions d1 (, d2) in weight space, one small module per method.

:func:`make_directions` is the one entry point: it looks the spec's method up in the
registry (:mod:`lossviz_core.directions.base`) and calls its builder with a
:class:`DirectionContext`. Built in: ``random`` (normalized Gaussian), ``target``
(θ_B − θ_A), ``pca`` (a run's trajectory), ``file`` (an HDF5 direction file). The math
lives in :mod:`.vectors`, the tensors a direction perturbs in :mod:`.weights`, the
reference's file layout in :mod:`.files`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from torch import nn

from lossviz_core.directions.base import (
    DirectionContext,
    DirectionMethod,
    Directions,
    WeightPath,
    direction_method,
    direction_methods,
    register_method,
)
from lossviz_core.directions.hdf5 import load_directions, save_directions
from lossviz_core.directions.vectors import (
    cosine_similarity,
    direction_norm,
    normalize_direction,
    random_direction,
    target_direction,
)
from lossviz_core.directions.weights import (
    check_dir_type,
    is_perturbable,
    names_of,
    tensors_from_state,
    weights_of,
)
from lossviz_core.recipe.spec import DirectionSpec

__all__ = [
    "DirectionContext", "DirectionMethod", "Directions", "check_dir_type", "cosine_similarity",
    "direction_method", "direction_methods", "direction_norm", "is_perturbable",
    "load_directions", "make_directions", "names_of", "normalize_direction",
    "random_direction", "register_method", "save_directions", "target_direction",
    "tensors_from_state", "weights_of", "WeightPath", "iter_directions",
]


def make_directions(model: nn.Module, spec: DirectionSpec, two_d: bool, **context: Any) -> Directions:
    """Directions for ``spec`` around the θ ``model`` holds (the model is left unchanged).

    ``context``: ``data``, ``loss``, ``device``, ``splits`` for methods that evaluate the
    model (see :class:`DirectionContext`).
    """
    gen = iter_directions(model, spec, two_d, **context)
    while True:
        try:
            next(gen)
        except StopIteration as stop:
            return stop.value


def iter_directions(model: nn.Module, spec: DirectionSpec, two_d: bool, **context: Any
                    ) -> Generator[Any, None, Directions]:
    """:func:`make_directions` as a generator of the method's progress steps (a method that
    trains, as a curve's bend does, yields them; stopping the generator stops it)."""
    method = direction_method(spec.method)
    made = method.build(DirectionContext(model, spec, two_d, **context))
    if isinstance(made, Generator):
        made = yield from made
    return made

