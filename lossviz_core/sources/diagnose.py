"""Why a model cannot take a dataset, in one line: the data's per-example shape, what the
model expects where that can be read (an exported program's input, the first Conv or Linear
layer) and torch's own words, from one forward of two examples before anything is built on
them."""

from __future__ import annotations

import re
from typing import Any

import numpy as np
import torch
from torch import nn

from lossviz_core.errors import InputError
from lossviz_core.recipe.spec import Recipe
from lossviz_core.sources import LoadedModel


def check_inputs(recipe: Recipe, loaded: LoadedModel, data: Any) -> None:
    """Refuse data the model cannot take: shapes (from a zoo table), token ids beyond the
    model's embedding (every id of the data, before any forward)."""
    expected = loaded.source.input_shape(recipe.model.name)
    if expected is not None and tuple(expected) != tuple(data.input_shape):
        raise InputError(
            f"model {recipe.model.name} expects inputs of shape {tuple(expected)} but dataset "
            f"{recipe.dataset.name} has {tuple(data.input_shape)}"
        )
    embedding = next(((n, m) for n, m in loaded.model.named_modules()
                      if isinstance(m, nn.Embedding)), None)
    splits = [s for s in (data.train, data.test) if s is not None and hasattr(s, "x")]
    if embedding is None or not splits or splits[0].x.is_floating_point():
        return
    top = max(int(s.x.max()) for s in splits)
    rows = embedding[1].num_embeddings
    if top >= rows:
        raise InputError(
            f"dataset {recipe.dataset.name} has token ids up to {top} but model "
            f"{recipe.model.name}'s embedding {embedding[0]} has {rows} rows (ids 0..{rows - 1});"
            " tokenize with the model's own tokenizer")


def check_forward(recipe: Recipe, model: nn.Module, data: Any, sample: torch.Tensor,
                   select) -> None:
    """One forward of two examples: a shape mismatch or out-of-range labels are one line."""
    try:
        with torch.no_grad():
            out = select(model(sample))
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure of the forward on this data
        raise InputError(_forward_failure(recipe, model, data, sample, exc)) from None
    top = data.max_label()
    if top is not None and out.dim() == 2 and top >= out.shape[1] and recipe.loss.name in (
        "ce", "nll", "mse"
    ):
        raise InputError(
            f"dataset {recipe.dataset.name} has labels up to {top} but model "
            f"{recipe.model.name} has {out.shape[1]} outputs"
        )


_CONV = ("Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d", "ConvTranspose3d")
_SPATIAL = {"1d": ("L",), "2d": ("H", "W"), "3d": ("D", "H", "W")}
_GUARD_DIM = re.compile(r"(?:size\(\)|shape)\[(\d+)\]")


def _forward_failure(recipe: Recipe, model: nn.Module, data: Any, sample: torch.Tensor,
                     exc: Exception) -> str:
    """The one line for a forward that failed: the data's per-example shape, what the model
    expects where that can be read (an exported program's input, the first Conv or Linear
    layer), and torch's own words. A fixed batch size is named only when the batch dimension
    is what differs."""
    text = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
    shape = tuple(data.input_shape)
    head = (f"model {recipe.model.name} cannot take the inputs of {recipe.dataset.name}, "
            f"whose examples have shape {shape}")
    exported = _exported_input_shape(model)
    if exported is not None:
        dim = _GUARD_DIM.search(text)
        reasons = []
        if exported[1:] != shape:
            per_example = tuple("?" if d is None else d for d in exported[1:])
            reasons.append(f"the exported program expects examples of shape {per_example}")
        if exported[0] is not None and (exported[0] != sample.shape[0] or (
                dim is not None and dim.group(1) == "0")):
            reasons.append(f"it was exported with a fixed batch size of {exported[0]} (export "
                           "it with a dynamic batch dimension)")
        if reasons:
            return f"{head}, but {' and '.join(reasons)} ({type(exc).__name__}: {text})"
    else:
        wants = _first_layer_expects(model, shape, sample.is_floating_point())
        if wants:
            return f"{head}, but {wants} ({type(exc).__name__}: {text}){_fix(recipe)}"
    if not sample.is_floating_point():
        head += (f" as integer ids ({str(sample.dtype).replace('torch.', '')}, kept for an "
                 "embedding; save values as floats)")
    return f"{head}: {type(exc).__name__}: {text}"


def _fix(recipe: Recipe) -> str:
    """Which control makes the data fit the model: the data kind's options that follow the
    model (the image channels), by their flag and their row in the window."""
    from lossviz_core.registry import DATA_SOURCES

    kind = DATA_SOURCES.find(recipe.dataset.name)
    params = [p for p in (kind.options if kind else ()) if p.name in kind.model_hints]
    if not params:
        return ""
    said = ", ".join(f"{p.cli_flag} {'|'.join(map(str, p.allowed()))} (the Dataset panel's "
                     f"{p.label})" for p in params)
    return f"; set {said}"


def _exported_input_shape(model: nn.Module) -> tuple[int | None, ...] | None:
    """The first input's shape of a ``torch.export`` program (``None`` for a dynamic
    dimension), or None when ``model`` is not one."""
    graph = getattr(model, "graph", None)
    if graph is None or not isinstance(model, torch.fx.GraphModule):
        return None
    for node in graph.nodes:
        if node.op != "placeholder":
            continue
        val = node.meta.get("val")
        if not isinstance(val, torch.Tensor):
            return None
        return tuple(d if isinstance(d, int) else None for d in val.shape)
    return None


def _first_layer_expects(model: nn.Module, shape: tuple[int, ...], floats: bool = True
                         ) -> str | None:
    """What the model's first Conv, Linear or Embedding layer takes, said only when the
    data's per-example ``shape`` (values: ``floats``; else integer ids) does not give it
    that; None otherwise or when none is found."""
    for name, m in model.named_modules():
        kind = getattr(m, "original_name", None) or type(m).__name__  # TorchScript keeps it
        if isinstance(m, nn.modules.lazy.LazyModuleMixin):
            return None  # sized by its first input: any shape fits
        where = f"its first layer{' ' + name if name else ''} ({kind})"
        if isinstance(m, nn.Embedding):
            return None if not floats else (
                f"{where} takes integer token ids, and the data gives float values (save the "
                "ids as integers)")
        if kind in _CONV or isinstance(m, nn.modules.conv._ConvNd):
            c = getattr(m, "in_channels", None)
            if not isinstance(c, int) or c < 1:
                return None
            dims = _SPATIAL.get(kind[-2:], ("...",))
            want_text = "(" + ", ".join(map(str, (c, *dims))) + ")"
            if (dims != ("...",) and len(shape) != len(dims) + 1) or (shape and shape[0] != c):
                return (f"{where} takes {c} input channel{'s' if c != 1 else ''}, "
                        f"examples of shape {want_text}")
            return None
        if kind == "Linear" or isinstance(m, nn.Linear):
            f = getattr(m, "in_features", None)
            if not isinstance(f, int) or f < 1:
                return None
            if shape and shape[-1] != f and int(np.prod(shape)) != f:
                return (f"{where} takes {f} input features, examples of shape ({f},) or any "
                        f"shape of {f} values flattened")
            return None
    return None


def model_facts(spec: Any) -> dict[str, Any]:
    """What a data kind's ``auto`` options may follow, read off the model before its data is
    loaded: ``channels``, the input channels of its first layer (from the zoo's table, or the
    architecture built on the meta device: no memory, no download); what the source reads
    off the model's files (``tokenizer``: where the model's tokenizer is). Empty where
    unreadable."""
    from lossviz_core.sources import model_source

    try:
        source = model_source(spec.name)
        if source.facts is not None:
            return source.facts(spec)
    except InputError:
        return {}
    shape = source.input_shape(spec.name)
    if shape:
        return {"channels": int(shape[0])}
    try:
        with torch.device("meta"):
            model = source.build(spec.replace(pretrained=None), spec.num_classes)
    except Exception:  # noqa: BLE001 - a model that cannot be built on meta: nothing known
        return {}
    for m in model.modules():
        if isinstance(m, nn.modules.conv._ConvNd):
            return {"channels": int(m.in_channels)}
        if isinstance(m, nn.Linear):
            return {}  # a flat input: channels mean nothing here
    return {}
