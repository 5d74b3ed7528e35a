"""A third-party LossViz plugin, as a user would write one: one module adding a model source
(``affine:N``), a data kind (``blobs:N``), a loss (``hinge``), a direction method
(``radial``) and a measure (``weight_norm``), each described by its parameters. The tests
install it through the ``lossviz.plugins`` entry point (this folder's ``.dist-info``) or
call :func:`register`; LossViz itself is not edited.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from lossviz_core.data.base import RawDataset, Split
from lossviz_core.data.registry import DataSource, register_data_source
from lossviz_core.directions.base import (
    DirectionContext,
    DirectionMethod,
    Directions,
    register_method,
)
from lossviz_core.directions.vectors import random_direction
from lossviz_core.directions.weights import names_of, weights_of
from lossviz_core.losses import Loss, register_loss
from lossviz_core.measures.base import MeasureKind, register_measure
from lossviz_core.params import NameParts, Param
from lossviz_core.results.quantities import Quantity
from lossviz_core.sources.registry import ModelSource, register_source

AFFINE, BLOBS = "affine:", "blobs:"
CLASSES = 3


# --- a model source: affine:N, a seeded linear classifier of N inputs --------------------------
def make_affine(inputs: int, classes: int = CLASSES) -> nn.Module:
    torch.manual_seed(inputs)
    return nn.Sequential(nn.Flatten(), nn.Linear(inputs, classes))


SOURCE = ModelSource(
    name="affine", label="Affine classifier (test plugin)", example="affine:N",
    matches=lambda n: n.startswith(AFFINE),
    build=lambda spec, n: make_affine(int(spec.name[len(AFFINE):]), n or CLASSES),
    name_parts=NameParts((Param("affine_inputs", "int", default=4, label="Inputs",
                                help="the number of input features"),), prefix=AFFINE),
    carries_weights=lambda spec: True,
)


# --- a data kind: blobs:N, N points of three Gaussian blobs in --blob-dims dimensions ---------
def blobs(n: int, dims: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % CLASSES
    centres = torch.eye(CLASSES, dims) * 2.0
    return centres[y] + torch.randn(n, dims, generator=g), y


def load_blobs(spec) -> RawDataset:
    n, dims = int(spec.name[len(BLOBS):]), int(spec.options.get("dims", 2))
    (x, y), (xt, yt) = blobs(n, dims, 0), blobs(n // 2, dims, 1)
    return RawDataset(spec.name, Split(x, y), Split(xt, yt), CLASSES)


DATA = DataSource(
    name="blobs", label="Gaussian blobs (test plugin)", example="blobs:N",
    matches=lambda n: n.startswith(BLOBS), load=load_blobs,
    name_parts=NameParts((Param("blobs_count", "int", default=64, label="Points"),),
                         prefix=BLOBS),
    options=(Param("dims", "int", default=2, flag="blob-dims", label="Dimensions",
                   minimum=1, help="the dimension of each blob"),),
)


# --- a loss: the multi-class hinge loss with a margin --------------------------------------------
def hinge_stats(out, y, loss, lead):
    margin = float(loss.params.get("margin", 1.0))
    yb = y.expand(out.shape[:-1])
    per = F.multi_margin_loss(out.reshape(-1, out.shape[-1]), yb.reshape(-1), margin=margin,
                              reduction="none").reshape(out.shape[:-1])
    correct = (out.argmax(-1) == yb).sum(-1, dtype=torch.float64)
    return per.sum(-1, dtype=torch.float64), correct


HINGE = Loss(name="hinge", label="multi-class hinge (test plugin)", stats=hinge_stats,
             accuracy=lambda targets, shape: True,
             params=(Param("margin", "float", default=1.0, flag="hinge-margin",
                           label="Margin", help="the hinge's margin"),))


# --- a direction method: radial, d₁ = scale·θ (toward and away from the origin) -------------------
def build_radial(ctx: DirectionContext) -> Directions:
    s, dt = ctx.spec, ctx.spec.dir_type
    scale = float(s.param("scale", 1.0))
    x = [scale * w.detach().clone() for w in weights_of(ctx.model, dt)]
    y = random_direction(ctx.model, dt, s.ynorm, s.yignore, ctx.generator()) if ctx.two_d else None
    return Directions(x, y, dt, names_of(ctx.model, dt), {"method": "radial"}).fill_info()


RADIAL = DirectionMethod(
    name="radial", build=build_radial, label="Radial (test plugin)",
    line_label="1-D radial (test plugin)", title="radial directions", uses=("seed",),
    params=(Param("scale", "float", default=1.0, flag="radial-scale", label="Scale",
                  title="radial ×{}", help="d₁ = scale·θ"),),
)


# --- a measure: the norm of the perturbed weights ‖θ + α·d₁ + β·d₂‖ ----------------------------------
class WeightNorm:
    name = "weight_norm"
    needs_grad = False
    quantities = ("weight_norm",)
    chunk_size = 16
    info: dict = {}

    def __init__(self, plane) -> None:
        self.plane = plane

    def evaluate(self, coords: np.ndarray) -> dict[str, np.ndarray]:
        out = []
        for a, b in coords:
            params = self.plane.params(float(a), float(b))
            out.append(float(torch.sqrt(sum((t.double() ** 2).sum() for t in params.values()))))
        return {"weight_norm": np.asarray(out)}


NORM = MeasureKind(
    name="weight_norm", label="weight norm (test plugin)",
    build=lambda ctx: WeightNorm(ctx.plane),
    quantities=(Quantity("weight_norm", "weight norm ‖θ + α·d₁ + β·d₂‖", order=70),),
    passes=0.0, cost="one norm per point", help="the norm of the perturbed weights",
)


def register() -> None:
    """The plugin's entry point: one call per registry."""
    register_source(SOURCE)
    register_data_source(DATA)
    register_loss(HINGE)
    register_method(RADIAL)
    register_measure(NORM)


def unregister() -> None:
    from lossviz_core.registry import (
        DATA_SOURCES,
        DIRECTION_METHODS,
        LOSSES,
        MEASURES,
        MODEL_SOURCES,
    )

    for registry, name in ((MODEL_SOURCES, "affine"), (DATA_SOURCES, "blobs"),
                           (LOSSES, "hinge"), (DIRECTION_METHODS, "radial"),
                           (MEASURES, "weight_norm")):
        registry.unregister(name)
