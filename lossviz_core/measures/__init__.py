"""Measures computed at each grid point (:mod:`.base`: registry) and loss functions
(:mod:`.losses`). Built in: ``loss`` (loss and accuracy, :mod:`.loss`)."""

from __future__ import annotations

from lossviz_core.measures.base import (  # noqa: F401 (the package's API)
    Measure,
    MeasureContext,
    MeasureKind,
    measure_kind,
    measure_kinds,
    register_measure,
)
