"""The plane θ + α·d₁ + β·d₂ through a model's weights: the paper's central object.

:func:`make_plane` gives the plane of a model and its directions: a :class:`Plane`
(:mod:`.stored`) holds θ, d₁ and d₂ as tensors (about three times the weights beside the
model), a :class:`SeededPlane` (:mod:`.seeded`) of seeded directions holds neither and
regenerates d₁, d₂ block by block, reading θ back from a file (:mod:`.theta`). Both have
one interface: ``write(α, β)`` puts θ + α·d₁ + β·d₂ into the model in place, ``restore()``
puts θ back exactly, ``params(α, β)`` gives a point functionally (named tensors for
``torch.func.functional_call``), ``stacked(a, b)`` gives K points at once for
``torch.func.vmap`` (stored directions only: ``plane.stackable``).

BatchNorm folding (:mod:`lossviz_core.evaluation.bnfold`) is an optimization wrapped
around a plane; the plane itself knows nothing of it.
"""

from __future__ import annotations

import os
from typing import Any

from torch import nn

from lossviz_core.directions.seeded import SeededDirections
from lossviz_core.plane.seeded import SeededPlane
from lossviz_core.plane.stored import Plane, check_directions, stack_points, write_point

__all__ = ["Plane", "SeededPlane", "check_directions", "make_plane", "stack_points",
           "write_point"]


def make_plane(model: nn.Module, directions: Any,
               checkpoint: str | os.PathLike | None = None) -> Plane:
    """The plane of ``directions`` through ``model`` (which holds θ): seeded directions
    make a :class:`SeededPlane` (θ read back from ``checkpoint`` when it is a safetensors
    file holding exactly the model's tensors), any other a :class:`Plane`."""
    if isinstance(directions, SeededDirections):
        return SeededPlane(model, directions, checkpoint)
    return Plane(model, directions)
