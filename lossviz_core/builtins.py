"""LossViz's own entries: the one table of everything built in.

The registries (:mod:`lossviz_core.registry`) load this module on their first lookup, as
they load third-party plugins from the ``lossviz.plugins`` entry-point group; nothing else
lists these entries again. Order matters twice: it is the order the window, ``--help`` and
``lossviz info`` list them in, and, for names matched by pattern (``torchvision:NAME``,
``FILE.py:FUNCTION``), an entry registered later is tried first.

To add an entry of your own, write one module that defines it and register it here (built
in) or from a plugin (see docs/engine-api.md, "Plugins").
"""

from __future__ import annotations

from lossviz_core.connect import method as curve
from lossviz_core.curvature import directions as hessian_directions
from lossviz_core.data import (
    cifar10,
    digits,
    hfds,
    imagefolder,
    jsonl,
    shakespeare,
    tensors,
    text,
    tokens,
    tvision,
)
from lossviz_core.data import pyfile as data_pyfile
from lossviz_core.directions import file, pca, plane3, random, target
from lossviz_core.losses import builtin as builtin_losses
from lossviz_core.losses import lm, register_loss
from lossviz_core.losses import pyfile as loss_pyfile
from lossviz_core.measures import curvature, loss, straight
from lossviz_core.measures.base import register_measure
from lossviz_core.registry import DATA_SOURCES, DIRECTION_METHODS, MODEL_SOURCES
from lossviz_core.sources import archives, hf, timm_models, tvmodels, zoo
from lossviz_core.sources import pyfile as model_pyfile

# (how an entry is registered, the entries): losses and measures register their quantities
TABLE = (
    (MODEL_SOURCES.register, (zoo.SOURCE, tvmodels.SOURCE, timm_models.SOURCE, hf.SOURCE,
                              model_pyfile.SOURCE, archives.SOURCE)),
    (DATA_SOURCES.register, (digits.SOURCE, shakespeare.SOURCE, cifar10.SOURCE, tvision.SOURCE,
                             imagefolder.SOURCE, tensors.SOURCE, tokens.SOURCE, text.SOURCE, jsonl.SOURCE,
                             hfds.SOURCE, data_pyfile.SOURCE)),
    (register_loss, (*builtin_losses.LOSSES, lm.LOSS, loss_pyfile.LOSS)),
    (DIRECTION_METHODS.register, (random.METHOD, pca.METHOD, hessian_directions.HESSIAN,
                                  hessian_directions.HESSIAN_RANDOM, target.METHOD,
                                  file.METHOD, plane3.METHOD, curve.METHOD)),
    (register_measure, (loss.KIND, curvature.KIND, straight.KIND)),
)

for _register, _entries in TABLE:
    for _entry in _entries:
        _register(_entry)
del _register, _entries, _entry
