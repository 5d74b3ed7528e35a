"""``lossviz eos RUN --out FIG``: the edge-of-stability figure of a tracked run.

λmax and critical sharpness with 2/lr, and the loss, against steps, from ``RUN/track.jsonl``
(written by ``lossviz train --track`` or a :class:`~lossviz_core.track.Tracker`); it may be
drawn while the run trains.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any


def add_eos_parser(subparsers: Any) -> None:
    p = subparsers.add_parser("eos", help="the edge-of-stability figure of a tracked run "
                              "(λmax, critical sharpness, 2/lr and the loss by step)")
    p.add_argument("run", metavar="RUN", help="a run folder with track.jsonl")
    p.add_argument("--out", required=True, help="the figure (.png, .svg or .pdf)")
    p.add_argument("--dpi", type=float, default=150.0)
    p.add_argument("--title", help="the figure's title (default: the run folder's name)")
    p.add_argument("--overwrite", action="store_true", help="replace an existing figure")


def run_eos(a: argparse.Namespace) -> int:
    from lossviz_core.export.eos import plot_eos
    from lossviz_core.results.paths import check_output

    check_output(a.out, "figure", may_exist=a.overwrite)
    path = plot_eos(a.run, a.out, dpi=a.dpi, title=a.title)
    print(f"lossviz: wrote {path}", file=sys.stderr)
    print(str(path))
    return 0
