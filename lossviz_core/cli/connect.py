"""``lossviz connect A B``: a mode-connecting curve between two models, beside the straight line.

Trains the bend of a Bezier curve or polygonal chain (``--curve``) to minimize the loss
averaged over the curve (``--epochs``, ``--lr``, ``--batch-size``; Garipov et al. 2018),
then evaluates train/test loss and accuracy along ``--x=0:1:N`` on the curve and on the
straight line (BatchNorm re-estimated at every point) and reports both barriers. It is
``lossviz line --method curve``: the same model, data and output options, resumable
(``--resume --out FILE``; a stopped training continues from its last epoch) and cancellable.
A and B: checkpoints (with ``--model``) or run folders.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from lossviz_core.errors import InputError
from lossviz_core.runs import RUN_FILE


def add_connect_arguments(p: argparse.ArgumentParser, add_source, add_entries, range_type
                          ) -> None:
    """The command's arguments: A, B, the model/data/output options of ``lossviz line``, the
    curve's (generated from the ``curve`` method's parameters) and their short names."""
    p.add_argument("a", metavar="A", nargs="?", help="model A: a checkpoint (with --model) or "
                   "a run folder")
    p.add_argument("b", metavar="B", nargs="?", help="model B: a checkpoint or a run folder")
    add_source(p, eval_batch=False)
    g = p.add_argument_group("the curve (Garipov et al. 2018)")
    g.add_argument("--epochs", dest="curve_epochs", type=int, help="epochs of training the "
                   "bend (20)")
    g.add_argument("--lr", dest="curve_lr", type=float, help="its SGD learning rate (0.05)")
    g.add_argument("--batch-size", dest="curve_batch_size", type=int,
                   help="its training batch (128)")
    g.add_argument("--seed", type=int, default=0, help="seed of t and of the batches' order")
    g.add_argument("--dir-type", choices=("weights", "states"), default=None)
    g.add_argument("--save-curve", metavar="FILE", help="also write the trained bend as a "
                   "checkpoint of the model")
    g.add_argument("--x", type=range_type, default=None, help="t = MIN:MAX:NUM (0:1:21)")
    add_entries(p, two_d=False)


def connect_namespace(a: argparse.Namespace) -> argparse.Namespace:
    """``a`` with A and B as the resolver's choices: the model (or A's run) and checkpoint2."""
    a.method, a.save_directions = "curve", None
    if a.split is None and a.a is not None:
        a.split = "both"  # train and test along the curve, as the paper's figures
    if (a.a is None) != (a.b is None):
        raise InputError("connect needs two models: lossviz connect A B (or --resume --out FILE)")
    if a.a is not None:
        if a.checkpoint or a.checkpoint2:
            raise InputError("give the two models as A and B, not --checkpoint/--checkpoint2")
        if (Path(a.a) / RUN_FILE).is_file():
            a.run = a.a  # its final checkpoint, model and dataset
        else:
            a.checkpoint = a.a
        a.checkpoint2 = a.b
    return a


def save_curve(job, path: str, overwrite: bool) -> Path:  # noqa: ANN001 (a Job)
    """Copy the trained bend (a checkpoint of the model) to ``path``."""
    import shutil

    from lossviz_core.results.paths import check_output

    out = check_output(path, "curve file", may_exist=overwrite)
    shutil.copyfile(job.directions.info["bend"], out)
    return out
