"""The evaluator: f(α, β) = L(θ + α·d₁ + β·d₂) for many grid points, fast.

A grid point costs one pass over the evaluation data, so everything here serves forward
passes per second (DESIGN.md, "Speed"): data on the device once, weights written in place
with ``torch._foreach_*``, large batches, bf16 autocast on CUDA with fp32/fp64
accumulation, ``channels_last``, BatchNorm folded into convolutions, several points per
pass for small models on a GPU (chosen by a probe), ``torch.compile`` when the grid repays
its warm-up, and batch halving on CUDA out-of-memory. It is the ``loss`` measure's engine
(:mod:`lossviz_core.measures.loss`).
"""

from __future__ import annotations

import time
from contextlib import ExitStack, contextmanager
from functools import partial
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from lossviz_core.device import pick_device
from lossviz_core.errors import CheckpointError, InputError, LossVizError
from lossviz_core.evaluation import multipoint as mp
from lossviz_core.evaluation import planner
from lossviz_core.evaluation.bnfold import fold
from lossviz_core.evaluation.capabilities import Capabilities, detect, set_mode
from lossviz_core.evaluation.outputs import select_output
from lossviz_core.evaluation.planner import (
    Decision,
    DecisionLog,
    Pin,
    bf16_is_fast,
    cuda_batch_size,
    cudnn_settings,
    layouts_allowed,
    should_replan,
    use_memory_format,
)
from lossviz_core.losses import (
    LossFunction,
    batch_sums,
    resolve_loss,
)
from lossviz_core.plane import Plane, make_plane
from lossviz_core.recipe.spec import COMPILE_MODES, MEMORY_FORMATS, PRECISIONS

SPLIT_NAMES = ("train", "test")
CHUNK_SECONDS = 0.5  # work per evaluate() call the evaluator prefers (progress granularity)
_MULTI = {"auto": "auto", True: True, False: False, "on": True, "off": False}


class Evaluator:
    """Loss and accuracy of θ + α·d₁ + β·d₂ over whole data splits.

    ``model`` is moved to ``device`` (and to ``channels_last`` for image inputs) once; its
    weights are restored exactly after every call. ``directions`` has ``x``, ``y`` (or
    None) and ``dir_type``, aligned with ``weights_of(model, dir_type)`` (or is a
    :class:`~lossviz_core.plane.Plane` already). ``data`` has ``train`` / ``test`` splits
    with ``x``, ``y`` tensors (or streamed splits). ``loss``: a name or a
    :class:`~lossviz_core.losses.LossFunction`; ``output``: the index or key of
    the logits in a tuple/dict output. ``capabilities``: what the model supports (detected
    here when not given). See DESIGN.md for the other options.
    """

    def __init__(
        self,
        model: nn.Module,
        directions: Any,
        data: Any,
        splits=("train",),
        loss: str | LossFunction = "ce",
        device=None,
        precision: str = "auto",
        batch_size: int | None = None,
        fold_bn="auto",
        compile="auto",
        multi="auto",
        memory_format: str = "auto",
        n_points: int | None = None,
        output: str | int | None = None,
        capabilities: Capabilities | None = None,
        pinned: Pin | dict[str, Any] | None = None,
    ) -> None:
        splits = (splits,) if isinstance(splits, str) else tuple(splits)
        splits = SPLIT_NAMES if splits == ("both",) else splits
        _check(
            all(s in SPLIT_NAMES for s in splits) and splits,
            f"splits must be train and/or test, got {splits}",
        )
        compile = "off" if compile is False else compile
        choices = {"precision": PRECISIONS, "compile": COMPILE_MODES}
        choices |= {"multi": tuple(_MULTI), "fold_bn": ("auto", True, False),
                    "memory format": MEMORY_FORMATS}
        for option, value in zip(choices, (precision, compile, multi, fold_bn, memory_format),
                                 strict=True):
            _check(value in choices[option], f"unknown {option} {value!r}; use {choices[option]}")
        _check(batch_size is None or int(batch_size) >= 1, f"batch size must be >= 1: {batch_size}")
        self.device = (
            torch.device(device) if isinstance(device, torch.device) else pick_device(device)
        )
        self.loss_fn = loss if isinstance(loss, LossFunction) else resolve_loss(loss)
        self.loss = self.loss_fn.name
        self.bf16 = precision == "bf16" or (precision == "auto" and bf16_is_fast(self.device))
        self._compile_option, self._multi_option = compile, _MULTI[multi]
        self._memory_format = memory_format
        self._user_batch = None if batch_size is None else int(batch_size)
        self.n_points = n_points
        self.model, self._fold_option = model, fold_bn
        self._select = partial(select_output, key=output)
        self.capabilities = capabilities
        self.plane = directions if isinstance(directions, Plane) else make_plane(model, directions)
        self.directions = self.plane.directions
        self.splits = [mp.load_split(data, s, self.device) for s in splits]
        self.two_d = self.plane.two_d
        self.channels_last = False
        self._copy_stream = None
        self._ready = False
        self._info: dict[str, Any] = {}
        self._has_acc = True
        self.counts: dict[str, float] = {}  # what each split's mean is over: examples, tokens
        # How points are computed: the probe's decisions, or those a resumed file records
        # (so a resumed surface sums in the same order as an uninterrupted one).
        self.pinned = pinned if isinstance(pinned, Pin) or pinned is None else Pin.of(pinned)
        self.log = DecisionLog()
        self._compile_mode = "off"  # until the probe decides
        self._observed = [0.0, 0]  # seconds, points since the last plan

    # ---- construction ------------------------------------------------------------------
    @property
    def _linear(self) -> bool:
        """Points are θ + α·d₁ + β·d₂ and nothing more (not a curve, BN not re-estimated):
        they may be stacked and BatchNorm folded."""
        return getattr(self.plane, "linear", True)

    def _image_inputs(self) -> bool:
        return len(self.input_shape) == 3 and self.device.type != "mps"

    @property
    def input_shape(self) -> tuple[int, ...]:
        first = self.splits[0]
        if first.kind == "loader":
            return tuple(first.source.input_shape)
        return tuple(first.x.shape[1:])

    def _set_memory_format(self) -> None:
        """channels_last for image inputs on CUDA; on the CPU whichever the probe finds faster
        (the layout the user pinned, if any: the probe then picks the batch only)."""
        if not self._image_inputs() or self.capabilities.scripted:
            return
        layouts = layouts_allowed(self._memory_format)
        if self.device.type == "cuda":
            self.channels_last = layouts[-1]  # channels_last unless the user pinned contiguous
        else:
            probe = mp.sample_of(self.splits[0], mp.CPU_BIG_BATCH)[0].to(self.device)
            self.channels_last, self._cpu_batch = mp.probe_cpu_layout(
                self.model, probe, self.bf16, self._select, layouts=layouts
            )
        use_memory_format(self.model, self.splits, self.channels_last)

    def _attach(self) -> None:
        """(Re)attach the plane to the model's live tensors and fold BN around it."""
        self.model.to(self.device)
        if self._image_inputs() and not self.capabilities.scripted:
            use_memory_format(self.model, [], self.channels_last)
        if self.plane.is_stale() or self.plane.live[0].device != self.device:
            self.plane.reattach()
        self.folded = fold(self.plane, self._fold_option, self.capabilities.fx)
        self._fwd = self.folded.module

    # ---- public API ----------------------------------------------------------------------
    @property
    def chunk_size(self) -> int:
        """Points per evaluate() call that take ~0.5 s (progress granularity), at least 1."""
        self._prepare()
        return self._chunk

    @property
    def info(self) -> dict[str, Any]:
        """How points are evaluated: mode, batch_size, precision, device, fold_bn, compile, ..."""
        self._prepare()
        return self._info

    @property
    def decisions(self) -> dict[str, Any]:
        """How points are computed now (what a result file records per point)."""
        self._prepare()
        return self.log.decisions[self.log.current].to_dict()

    @property
    def decision_log(self) -> list[dict[str, Any]]:
        """Every decision taken so far, as a result file records them; points name theirs
        by :attr:`decision_id`."""
        return self.log.records()

    @property
    def decision_id(self) -> int:
        return self.log.current

    @property
    def quantities(self) -> tuple[str, ...]:
        """What :meth:`evaluate` returns: ``{split}_loss`` (and ``{split}_acc``, and what the
        loss adds: ``{split}_perplexity``) per split."""
        self._prepare()
        kinds = ("loss", "acc") if self._has_acc else ("loss",)
        kinds += tuple(q.name for q in self.loss_fn.entry.quantities)
        return tuple(f"{s.name}_{k}" for s in self.splits for k in kinds)

    def evaluate(self, coords: np.ndarray) -> dict[str, np.ndarray]:
        """Loss and accuracy (percent) at each row (α,) or (α, β) of ``coords``.

        Returns ``{"train_loss": (k,), "train_acc": (k,), ...}`` per split; non-finite
        losses are returned as they are.
        """
        c = np.asarray(coords, dtype=np.float64)
        c = c[:, None] if c.ndim == 1 else c
        _check(
            c.ndim == 2 and c.shape[1] in (1, 2),
            f"coords must have shape (k, 1) or (k, 2), got {c.shape}",
        )
        _check(c.shape[1] == 1 or self.two_d, "2-D coordinates need a y direction")
        a = c[:, 0]
        b = c[:, 1] if c.shape[1] == 2 else np.zeros_like(a)
        self._prepare()
        start = time.perf_counter()
        with self._evaluating():
            self._maybe_compile()
            sums = self._points(a, b)
        out = self._finish(sums)
        self._observe(time.perf_counter() - start, len(a))
        return out

    def evaluate_state(self, state_dict) -> dict[str, float]:
        """Loss and accuracy of arbitrary weights (a trajectory checkpoint), same data."""
        if isinstance(state_dict.get("state_dict"), dict):
            state_dict = state_dict["state_dict"]
        self._prepare()
        missing = [k for k in self.folded.state_names if k not in state_dict]
        if missing:
            raise CheckpointError(f"the state misses {len(missing)} entries, e.g. {missing[:3]}")
        wrong = [
            k
            for k, t in zip(self.folded.state_names, self.folded.state_live, strict=True)
            if tuple(state_dict[k].shape) != tuple(t.shape)
        ]
        if wrong:
            raise CheckpointError(f"the state does not fit the model: wrong shape at {wrong[:3]}")
        with self._evaluating():
            self.folded.load_state(state_dict)
            sums = {s.name: self._split_sums(s) for s in self.splits}
        return {k: float(v[0]) for k, v in self._finish(sums).items()}

    # ---- evaluation ----------------------------------------------------------------------
    @contextmanager
    def _evaluating(self):
        """No autograd (thread-local: entered in the calling thread), eval mode, θ restored."""
        if self._ready and self.folded.is_stale():  # e.g. another evaluator moved the model
            self._attach()
        was_training = self.model.training
        with ExitStack() as stack:
            stack.enter_context(torch.no_grad())
            if self.device.type == "cuda":
                stack.enter_context(cudnn_settings(exact=not self.bf16))
            set_mode(self.folded.module, False)
            try:
                yield
            finally:
                self.folded.restore()
                set_mode(self.model, was_training)

    def _points(self, a: np.ndarray, b: np.ndarray) -> dict[str, tuple[Tensor, ...]]:
        """Per-split (loss sums, correct sums, counts), shape (k,), on the device."""
        k = len(a)
        out = {s.name: tuple(torch.empty(k, dtype=torch.float64, device=self.device)
                             for _ in range(3)) for s in self.splits}
        i = 0
        while i < k:
            n = min(self._k, k - i) if self._multi else 1
            ga, gb = a[i : i + n], b[i : i + n]
            if self._multi and n < self._k:  # always K points a pass: the same kernels
                ga = np.concatenate([ga, np.repeat(ga[-1:], self._k - n)])
                gb = np.concatenate([gb, np.repeat(gb[-1:], self._k - n)])
            try:
                vals = self._group(ga, gb)
            except torch.cuda.OutOfMemoryError:
                vals = None
            if vals is None:  # outside the except block, so the failed pass's memory is freed
                self._shrink()
                continue
            for name, sums in vals.items():
                for dst, src in zip(out[name], sums, strict=True):
                    dst[i : i + n] = src[:n]
            i += n
        return out

    def _group(self, a: np.ndarray, b: np.ndarray) -> dict[str, tuple[Tensor, ...]]:
        if not self._multi:
            self.folded.write(float(a[0]), float(b[0]))
            return {s.name: self._split_sums(s) for s in self.splits}
        at = torch.as_tensor(a, dtype=torch.float32, device=self.device)
        bt = torch.as_tensor(b, dtype=torch.float32, device=self.device)
        params = self.folded.stacked(at, bt)
        return {s.name: self._split_sums(s, params) for s in self.splits}

    def _split_sums(self, split: mp.EvalSplit, params: dict[str, Tensor] | None = None):
        """Sums of the loss and of the accuracy over a whole split, and what they count
        (examples, or the loss's own count: tokens), fp64."""
        shape = () if params is None else (next(iter(params.values())).shape[0],)
        loss = torch.zeros(shape, dtype=torch.float64, device=self.device)
        correct = torch.zeros(shape, dtype=torch.float64, device=self.device)
        count = torch.zeros(shape, dtype=torch.float64, device=self.device)
        for xb, yb in self._batches(split):
            with self._autocast():
                if params is not None:
                    out = mp.stacked_forward(self.folded.module, params, xb, self._select)
                elif xb.shape[0] == self.batch_size:
                    out = self._select(self._fwd(xb))
                else:  # the tail batch runs eagerly: no second compile for its shape
                    out = self._select(self.folded.module(xb))
            l_sum, c_sum, n = batch_sums(self._fp32(out), yb, self.loss_fn, lead=len(shape))
            loss += l_sum
            correct += c_sum
            count += n
        return loss.reshape(-1), correct.reshape(-1), count.reshape(-1)

    def _fp32(self, out: Tensor) -> Tensor:
        """The outputs the loss sums: fp32, unless the loss casts them piece by piece itself
        (a language model's logits are not copied whole)."""
        return out if self.loss_fn.entry.casts_outputs else out.float()

    def _autocast(self):
        return torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.bf16)

    def _batches(self, split: mp.EvalSplit):
        bs = self.batch_size
        if split.kind == "loader":
            yield from mp.from_loader(split, bs, self.device, self.channels_last)
            return
        if split.kind == "pinned":
            if self._copy_stream is None:
                self._copy_stream = torch.cuda.Stream(self.device)
            yield from mp.streamed(split, bs, self.device, self._copy_stream, self.channels_last)
            return
        for s in range(0, split.n, bs):
            yield split.x[s : s + bs], split.y[s : s + bs]

    def _finish(self, sums: dict[str, tuple[Tensor, ...]]) -> dict[str, np.ndarray]:
        out = {}
        for s in self.splits:
            loss, correct, count = (t.cpu().numpy() for t in sums[s.name])
            mean = loss / count  # the count is the split's size, or its tokens
            self.counts[s.name] = float(count[0])
            out[f"{s.name}_loss"] = mean
            if self._has_acc:
                acc = 100.0 * correct / count
                # diverged: the logits are NaN/inf, so any "accuracy" there is an argmax tie
                out[f"{s.name}_acc"] = np.where(np.isfinite(mean), acc, np.nan)
            for q in self.loss_fn.entry.quantities:
                out[f"{s.name}_{q.name}"] = q.of_mean(mean)
        return out

    def _oom_retry(self, fn):
        """Call ``fn`` until it fits: on CUDA out-of-memory halve K or the batch and retry."""
        while True:
            try:
                return fn()
            except torch.cuda.OutOfMemoryError:
                pass
            self._shrink()  # outside the except block, so the failed pass's memory is freed

    def _shrink(self) -> None:
        """CUDA out of memory: halve K (stacked points) or the batch, never crash the job."""
        torch.cuda.empty_cache()
        if self._multi and self._k > 1:
            self._k //= 2
        elif self.batch_size > 1:
            self.batch_size //= 2
        else:
            raise LossVizError(
                "out of GPU memory even at batch size 1; use a smaller model, "
                "free the GPU, or choose --device cpu"
            )
        self._info.update(batch_size=self.batch_size, multi_k=self._k if self._multi else 1)
        self._new_decision("out of memory")

    # ---- probe and compile ---------------------------------------------------------------
    def _prepare(self) -> None:
        """Choose the batch size, single vs multi-point and compile with a short probe (or
        take them from ``pinned``: a resumed file's decisions)."""
        if self._ready:
            return
        start = time.perf_counter()
        pin = self.pinned or Pin()
        if pin.precision in ("bf16", "fp32"):
            self.bf16 = pin.precision == "bf16"
        n_max = max(s.n for s in self.splits)
        self.batch_size, self._multi, self._k, self._chunk = 1, False, 1, 1
        self._cpu_batch = mp.CPU_BATCH  # a few hundred; the CPU probe may pick one big batch
        self.model.to(self.device)
        if self.capabilities is None:
            x0 = mp.sample_of(self.splits[0], 2)[0].to(self.device)
            self.capabilities = detect(self.model, x0, self._select)
        if (self._multi_option is True or pin.mode == "multi") and not (
                self.capabilities.functional):
            raise InputError("multi-point evaluation needs torch.func support, which this model "
                             f"lacks ({self.capabilities.reasons.get('functional')}); use "
                             "multi-point off")
        if self._multi_option is True and not self._linear:
            raise InputError("points of a curve, or with BatchNorm re-estimated, are evaluated "
                             "one at a time: use multi-point off")
        with torch.no_grad():
            was_training = self.model.training
            set_mode(self.model, False)
            if pin.channels_last is not None:
                self._pin_memory_format(bool(pin.channels_last))
            else:
                self._set_memory_format()
            set_mode(self.model, was_training)
        self._attach()
        with self._evaluating():
            self.folded.write(0.0, 0.0)
            first = self.splits[0]
            if pin.batch_size:
                self.batch_size = int(pin.batch_size)
            elif self._user_batch is not None:
                self.batch_size = min(self._user_batch, n_max)
            elif self.device.type == "cuda":
                probe_x = mp.sample_of(first, 64)[0].to(self.device)
                per = mp.sample_bytes(self._eager_autocast, probe_x, self.device)
                free, _ = torch.cuda.mem_get_info(self.device)
                self.batch_size = cuda_batch_size(per, free, n_max)
            else:
                self.batch_size = min(self._cpu_batch, n_max)

            def measure() -> tuple[Tensor, Tensor, float]:
                xb, yb = next(iter(self._batches(first)))
                return xb, yb, mp.time_call(lambda: self._eager_autocast(xb), self.device)

            xb, yb, t_single = self._oom_retry(measure)
            out = self._eager_autocast(xb[:2])
            self._has_acc = self.loss_fn.has_accuracy(yb, tuple(out.shape[1:]))
            batch_sums(self._fp32(out), yb[:2], self.loss_fn, lead=0)  # a bad loss fails here
            if pin.mode is not None:
                self._multi = pin.mode == "multi"
                self._k = int(pin.multi_k or 1) if self._multi else 1
                per_sample = t_single / xb.shape[0]
            else:
                stackable = self.capabilities.functional and self._linear
                multi_option = self._multi_option if stackable else False
                self._multi, self._k, per_sample = mp.probe_multi(
                    multi_option, self.device, self.folded, xb, self._autocast,
                    t_single / xb.shape[0], self._select,
                )
            self._probe_x = xb
        spp = per_sample * sum(s.n for s in self.splits)
        self._spp = spp
        self._set_chunk(spp)
        if pin.compile is not None:
            self._compile_mode = "off" if str(pin.compile).startswith("off") else pin.compile
        else:
            self._compile_mode = mp.choose_compile(
                self._compile_option, self.device, self._multi, self.n_points, spp
            )
        if self.capabilities.scripted:
            self._compile_mode = "off"  # TorchScript is compiled already
        self._ready = True
        self._info = dict(
            mode="multi" if self._multi else "single",
            multi_k=self._k if self._multi else 1,
            batch_size=self.batch_size,
            precision="bf16" if self.bf16 else "fp32",
            device=str(self.device),
            fold_bn=bool(self.folded.pairs),
            fold_pairs=len(self.folded.pairs),
            fold_per_point=self.folded.refold,
            compile=self._compile_mode,
            channels_last=self.channels_last,
            threads=self._threads(),
            warmup_seconds=0.0,
            seconds_per_point=spp,
            probe_seconds=time.perf_counter() - start,
            streaming=any(s.stream for s in self.splits),
            loss=self.loss_fn.name,
            capabilities=self.capabilities.to_dict(),
            pinned=bool(self.pinned),
        )
        self.log.start(self._decision("probe" if not self.pinned else "as the file records"))

    def _set_chunk(self, spp: float) -> None:
        self._chunk = max(1, min(512, round(CHUNK_SECONDS / max(spp, 1e-9))))
        if self._multi:
            self._chunk = -(-self._chunk // self._k) * self._k

    def _pin_memory_format(self, channels_last: bool) -> None:
        if not self._image_inputs() or self.capabilities.scripted:
            return
        self.channels_last = channels_last
        use_memory_format(self.model, self.splits, channels_last)

    def _decision(self, why: str) -> Decision:
        return Decision(mode="multi" if self._multi else "single",
                        multi_k=self._k if self._multi else 1, batch_size=self.batch_size,
                        precision="bf16" if self.bf16 else "fp32",
                        channels_last=self.channels_last, compile=self._compile_mode,
                        threads=self._threads(), why=why)

    def _threads(self) -> int | None:
        """torch's CPU threads, which set a CPU sum's order (None on a GPU)."""
        return torch.get_num_threads() if self.device.type == "cpu" else None

    def _new_decision(self, why: str) -> None:
        """The decisions changed (out of memory, a replan): points from now on say so."""
        if self.log.add(self._decision(why)):
            self._observed = [0.0, 0]

    # ---- a plan that holds up on a busy machine ------------------------------------------
    def _observe(self, seconds: float, points: int) -> None:
        """Compare the measured rate with the probe's; far slower: probe again, maybe switch.

        On a shared machine a load spike during the probe can pick multi-point evaluation
        where one point at a time is faster (seen: 2-17x slower). A resumed file's decisions
        are never changed (its points must all be computed the same way)."""
        self._observed[0] += seconds
        self._observed[1] += points
        t, n = self._observed
        if (self.pinned or len(self.log.decisions) > 2 or not self.capabilities.functional
                or not self._linear or not should_replan(t, n, self._spp)):
            return
        with self._evaluating():
            multi, k, per_sample = mp.probe_multi(
                "auto", self.device, self.folded, self._probe_x, self._autocast,
                mp.time_call(lambda: self._eager_autocast(self._probe_x), self.device)
                / self._probe_x.shape[0], self._select,
            )
        self._spp = per_sample * sum(s.n for s in self.splits)
        if (multi, k if multi else 1) != (self._multi, self._k if self._multi else 1):
            self._multi, self._k = multi, k
            self._set_chunk(self._spp)
            self._info.update(mode="multi" if multi else "single", multi_k=k if multi else 1,
                              replanned=f"{t / n:.3g} s/point measured, "
                                        f"{planner.REPLAN_FACTOR}x the probe's estimate")
            self._new_decision("replanned: far slower than probed")
        else:  # the plan stands: measure afresh against what it really costs now, so a
            # probe that stays optimistic (a loaded machine) is not repeated every few seconds
            self._spp = max(self._spp, t / n)
            self._observed = [0.0, 0]

    def _eager_autocast(self, x: Tensor) -> Tensor:
        with self._autocast():
            return self._select(self.folded.module(x))

    def _maybe_compile(self) -> None:
        """Compile on the first evaluate() (in the worker), timing the warm-up."""
        mode = self._compile_mode
        if mode == "off" or self._fwd is not self.folded.module:
            return
        start = time.perf_counter()
        self._fwd = mp.compile_module(self.folded.module, mode)
        self.folded.write(0.0, 0.0)

        def warm_up() -> None:
            xb = next(iter(self._batches(self.splits[0])))[0]
            if xb.shape[0] == self.batch_size:  # a smaller split is evaluated eagerly anyway
                with self._autocast():
                    self._fwd(xb)
            mp.synchronize(self.device)

        try:
            self._oom_retry(warm_up)
        except LossVizError:
            raise
        except Exception as exc:  # noqa: BLE001 - no compiler, unsupported GPU, inductor bug
            if self._compile_option != "auto":
                raise LossVizError(f"torch.compile failed ({type(exc).__name__}: "
                                   f"{str(exc).splitlines()[0] if str(exc) else ''}); "
                                   "use compile 'off'") from None
            self._fwd, self._compile_mode = self.folded.module, "off"  # auto: run eagerly
            self._info["compile"] = "off (compile failed)"
            self.log.amend(compile="off")
        self._info["warmup_seconds"] = time.perf_counter() - start


def _check(ok: object, message: str) -> None:
    if not ok:
        raise InputError(message)
