"""Limits that hold everywhere: the command line, studies, the window and the files they read.

Each is checked before any work starts, and a refusal is one line that names the size
asked for and the limit, so a typo (``--x=-1:1:100000``, a 300 × 300 sweep, a run folder
listing 200,000 checkpoints, ``imagefolder:/``) costs a second, not hours or the disk.
"""

from __future__ import annotations

from lossviz_core.errors import InputError

#: points of one grid (a surface or a line)
MAX_POINTS = 50_000_000
#: checkpoints one run folder may list (a PCA plane loads every one)
MAX_CHECKPOINTS = 10_000
#: units one study may plan (training runs, grids, figures), sweeps expanded
MAX_STUDY_UNITS = 10_000
#: files and folders one image-folder data set may walk
MAX_IMAGE_FOLDER_ENTRIES = 5_000_000
#: entries of a class folder walked without finding one image before giving up on it
MAX_ENTRIES_WITHOUT_IMAGE = 10_000
#: bytes per grid point held in memory: up to 8 float64 quantities, the done mask, the plan
BYTES_PER_POINT = 8 * 8 + 2


def check_grid_fits(shape: tuple[int, ...], what: str = "grid") -> None:
    """Refuse, at once, a grid this machine cannot even hold (before any preparation)."""
    from lossviz_core.device import host_memory_available

    n = 1
    for k in shape:
        n *= int(k)
    memory = n * BYTES_PER_POINT
    if n > MAX_POINTS or memory > 0.5 * host_memory_available():
        size = "x".join(map(str, shape))
        raise InputError(f"a {size} {what} ({n:.3g} points, {memory / 2**30:.1f} GiB in "
                         f"memory and on disk) is too large to hold here; use fewer points "
                         f"(at most {MAX_POINTS:.0e})")
