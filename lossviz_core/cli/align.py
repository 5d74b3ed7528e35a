"""``lossviz align A B --out B_aligned.pt``: B's hidden units permuted to match A's.

Weight matching (Ainsworth et al., *Git Re-Basin*, ICLR 2023) for MLPs, CNNs and ResNets
with BatchNorm (:mod:`lossviz_core.align`); the aligned checkpoint computes exactly what B
computes. Unless ``--no-barrier``, the straight line A → B is evaluated before and after at
``--x`` (0:1:11) and both barriers are reported. A and B: checkpoints (with ``--model``) or
run folders.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lossviz_core.errors import InputError
from lossviz_core.runs import RUN_FILE


def add_align_arguments(p: argparse.ArgumentParser, add_source, range_type) -> None:
    p.add_argument("a", metavar="A", help="model A: a checkpoint (with --model) or a run folder")
    p.add_argument("b", metavar="B", help="model B, to be aligned to A")
    add_source(p, output=False)
    o = p.add_argument_group("output")
    o.add_argument("--out", required=True, help="the aligned checkpoint (.pt, .safetensors)")
    o.add_argument("--overwrite", action="store_true", help="replace an existing --out")
    o.add_argument("--x", type=range_type, default=None,
                   help="where the straight line is evaluated (0:1:11)")
    o.add_argument("--no-barrier", action="store_true", help="only align, evaluate nothing")


def run_align(a: argparse.Namespace) -> int:
    from lossviz_core.cli import _say, choices_from_args
    from lossviz_core.cli.report import unaligned_barrier
    from lossviz_core.device import threads_for_load
    from lossviz_core.directions.others import other_state, own_state
    from lossviz_core.progress import drain
    from lossviz_core.recipe.spec import Range
    from lossviz_core.resolve import resolve
    from lossviz_core.results.paths import check_output
    from lossviz_core.results.summary import barrier
    from lossviz_core.run.job import prepare
    from lossviz_core.sources.checkpoints import save_checkpoint

    out = check_output(a.out, "aligned checkpoint", may_exist=a.overwrite)
    if a.checkpoint:
        raise InputError("give the two models as A and B, not --checkpoint")
    choices = choices_from_args(a, line=True)
    choices.update(method="target", checkpoint2=a.b, align=True,
                   x=a.x or Range(0.0, 1.0, 11))
    if (Path(a.a) / RUN_FILE).is_file():
        choices["run"] = a.a
    else:
        choices["checkpoint"] = a.a
    recipe = resolve(choices)
    _, why = threads_for_load()
    _say(f"aligning {a.b} to {a.a} ({recipe.model.name}; {why}) ...")
    job = prepare(recipe)
    aligned, info = other_state(job.model, a.b, "B", align=True, own=own_state(job.model))
    done = info["align"]
    save_checkpoint(aligned, out, aligned_to=str(Path(a.a).resolve()), align=done)
    _say(f"aligned {done['moved']} of {done['units']} hidden units in {done['groups']} "
         f"permutations; ‖θ_B − θ_A‖ {done['distance_before']:.4g} → "
         f"{done['distance_after']:.4g}")
    _say(f"wrote {out}")
    if a.no_barrier:
        return 0
    result = drain(job.iter())
    before = unaligned_barrier(job)
    for q, b in before.items():
        after = barrier(result.x, result.values[q])
        _say(f"straight-line barrier ({q.replace('_', ' ')}): {b:.4g} before alignment, "
             f"{after:.4g} after")
    return 0
