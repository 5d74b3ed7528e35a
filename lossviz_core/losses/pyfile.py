"""``FILE.py:FUNCTION``: a user's loss ``FUNCTION(outputs, targets)`` returning a batch's mean."""

from __future__ import annotations

from lossviz_core.losses.base import Loss, user_stats
from lossviz_core.usercode import is_function_ref, load_function, user_file

LOSS = Loss(
    name="pyfile", label="Python file (loss function)", example="FILE.py:FUNCTION",
    matches=is_function_ref, stats=user_stats,
    accuracy=lambda targets, shape: not targets.is_floating_point() and len(shape) == 1,
    load=lambda name: load_function(name, "loss"), user_code=user_file,
    help="FUNCTION(outputs, targets) returns the batch's mean loss",
)
