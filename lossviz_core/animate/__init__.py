"""Animations of loss landscapes: the trajectory moving over a landscape, or a sequence of
landscapes (one per checkpoint) on one colour scale, as a GIF or an MP4.

::

    from lossviz_core.animate import AnimationOptions, animate
    animate([read_result("pca.h5")], "pca.gif", AnimationOptions(kind="surface", rotate=90))

Each frame is the still export of its state (:mod:`.frames`), encoded by imageio
(:mod:`.encode`); :func:`iter_animation` yields a :class:`~lossviz_core.progress.Step` per
frame so a window or a command line can show progress and cancel.
"""

from __future__ import annotations

import importlib
from typing import Any

MODES = ("auto", "trajectory", "sequence")
KINDS = ("filled", "contour", "heatmap", "surface")

# The rest loads matplotlib and imageio (about a second): imported when first asked for, so
# that the command line's parser (which offers KINDS and MODES) starts without them.
_LAZY = {"FORMATS": "encode", "State": "frames", "cut_trajectory": "frames",
         "render": "frames", **dict.fromkeys(("AnimationOptions", "animate", "frames_of",
                                               "iter_animation", "plan_states"), "make")}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f"{__name__}.{_LAZY[name]}")
        return getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = ["KINDS", "MODES", *_LAZY]
