"""``curve``: a mode-connecting curve from the model (A) to checkpoint B, its bend trained.

The direction method behind ``lossviz connect A B``: it trains the bend of a Bezier curve or
polygonal chain to minimize the loss averaged over the curve (:mod:`.bend`), or reads it when
trained already, and returns the curve's plane (d₁, d₂ of :func:`~.curves.bend_directions`)
with the path t ↦ (α(t), β(t)) and BatchNorm re-estimated at every point. A result is a line
over t ∈ [0, 1]; its ``straight`` measure is the straight line A → B at the same t.

Bends are kept in a cache (``~/.cache/lossviz/curves``, or ``$LOSSVIZ_CURVE_CACHE``) under a
key made of A's and B's weights, the training data and the training settings, so the result
file alone resumes without retraining; ``--save-curve FILE`` copies the bend out.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Generator
from pathlib import Path

import torch

from lossviz_core.connect.bend import BendSpec, iter_train_bend
from lossviz_core.connect.curves import CURVES, bend_directions
from lossviz_core.directions.base import DirectionContext, DirectionMethod, Directions, WeightPath
from lossviz_core.directions.others import other_state, own_state
from lossviz_core.directions.weights import is_perturbable, names_of
from lossviz_core.params import Param
from lossviz_core.progress import Step
from lossviz_core.recipe.spec import Range

CACHE_ENV = "LOSSVIZ_CURVE_CACHE"
DEFAULTS = BendSpec()


def curve_cache() -> Path:
    """Where trained bends are kept."""
    return Path(os.environ.get(CACHE_ENV) or "~/.cache/lossviz/curves").expanduser()


def bend_spec(ctx: DirectionContext) -> BendSpec:
    s = ctx.spec
    return BendSpec(curve=s.param("curve", DEFAULTS.curve),
                    epochs=int(s.param("curve_epochs", DEFAULTS.epochs)),
                    lr=float(s.param("curve_lr", DEFAULTS.lr)),
                    batch_size=int(s.param("curve_batch_size", DEFAULTS.batch_size)),
                    seed=int(s.seed))


def bend_key(spec: BendSpec, a: dict, b: dict, ctx: DirectionContext) -> str:
    """What decides the bend: the two ends' weights, the training data, loss and settings."""
    h = hashlib.sha256(json.dumps({"bend": spec.to_dict(), "loss": ctx.loss.name,
                                   "data": getattr(ctx.data, "name", "")}).encode())
    for state in (a, b):
        for k in sorted(state):
            h.update(k.encode())
            h.update(_bytes(state[k]))
    train = ctx.data.train
    h.update(str(len(train)).encode())
    for t in (getattr(train, "y", None), getattr(train, "x", None)):
        if t is not None:
            h.update(_bytes(t[:256]))
    return h.hexdigest()[:24]


def _bytes(t: torch.Tensor) -> bytes:
    return t.detach().cpu().contiguous().reshape(-1).view(torch.uint8).numpy().tobytes()


def build(ctx: DirectionContext) -> Generator[Step, None, Directions]:
    s, dt, model = ctx.spec, ctx.spec.dir_type, ctx.model
    spec = bend_spec(ctx)
    a = own_state(model)
    b, info = other_state(model, s.param("checkpoint"), "B", bool(s.param("align")), own=a)
    path = curve_cache() / f"{spec.curve}-{bend_key(spec, a, b, ctx)}.pt"
    yield Step(f"the {spec.curve} bend: {path}", 0.0)
    bend = yield from iter_train_bend(model, a, b, ctx.data.train, ctx.loss, spec, path,
                                      meta={"b": info["checkpoint"]})
    d1, d2 = [], []
    for name, w in model.state_dict().items():
        if not is_perturbable(w):
            d1.append(torch.zeros_like(w))
            d2.append(torch.zeros_like(w))
            continue
        ta, tb = a[name].to(w.device, w.dtype), b[name].to(w.device, w.dtype)
        # BatchNorm statistics are re-estimated at every point: their bend is the midpoint
        tm = bend[name].to(w.device, w.dtype) if name in bend else (ta + tb) / 2
        x, y = bend_directions(spec.curve, ta, tm, tb)
        d1.append(x)
        d2.append(y)
    if dt == "weights":  # d₁, d₂ follow parameters() only
        params = dict(model.named_parameters())
        keep = [i for i, n in enumerate(names_of(model, "states")) if n in params]
        d1, d2 = [d1[i] for i in keep], [d2[i] for i in keep]
    info.update(method="curve", curve=spec.curve, bend=str(path), training=spec.to_dict())
    return Directions(d1, d2, dt, names_of(model, dt), info,
                      path=WeightPath(curve=spec.curve, recompute_bn=True)).fill_info()


def _training_param(name: str, kind: str, label: str, help: str, minimum: float) -> Param:
    return Param(name, kind, default=getattr(DEFAULTS, name[len("curve_"):]), label=label,
                 help=help, minimum=minimum, title=None)


METHOD = DirectionMethod(
    name="curve", build=build, label="Mode-connecting curve A → B",
    line_label="Mode-connecting curve A → B (trained)", planes=False, dir_type="states",
    needs_data=True, line_range=Range(0.0, 1.0, 21), title="curve", uses=(),
    model_params=("checkpoint",), measures=("straight",),
    help="a Bezier curve or polygonal chain from A to B whose bend is trained to minimize "
         "the loss averaged over the curve (Garipov et al. 2018), beside the straight line",
    params=(
        Param("checkpoint", "file", flag="checkpoint2", label="Checkpoint B", metavar="FILE",
              title="curve to {}", help="the curve's far end (a checkpoint or a run folder)"),
        Param("curve", "str", default="bezier", choices=CURVES, label="Curve",
              title="{} curve", help="bezier (one bend, quadratic) or polychain (A → bend → B)"),
        _training_param("curve_epochs", "int", "Curve epochs",
                        "epochs of training the bend", 1),
        _training_param("curve_lr", "float", "Curve learning rate",
                        "SGD learning rate of the bend (momentum 0.9)", 0.0),
        _training_param("curve_batch_size", "int", "Curve batch size",
                        "training batch of the bend", 1),
        Param("align", "bool", default=False, label="Align to A",
              title="aligned", help="permute B's hidden units to match A's first (weight "
              "matching, Git Re-Basin)"),
    ),
)
