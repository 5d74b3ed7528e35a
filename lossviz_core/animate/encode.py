"""Frames to a file: GIF (imageio's Pillow plugin) or MP4 (H.264 through imageio-ffmpeg).

Both encoders come from maintained packages (``pip install 'lossviz[anim]'``); nothing here
encodes video by hand. An MP4 keeps the exact pixel size (no macro-block padding), so H.264
needs an even width and height, and holds every frame. A GIF loops forever and stores a
frame held over several steps once, shown for their summed duration (Pillow's encoding), so
a sequence of N landscapes decodes to N frames whose durations add up to the animation's.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import numpy as np

from lossviz_core.errors import InputError

FORMATS = (".gif", ".mp4")


def check_target(path: str | os.PathLike, size: tuple[int, int], fps: float) -> Path:
    """``path`` if it names a format we write at this size and rate; one line if not."""
    path = Path(path)
    fmt = path.suffix.lower()
    if fmt not in FORMATS:
        raise InputError(f"cannot write an animation as {path.name!r}: use a .gif or .mp4 "
                         "file name")
    if not 0 < fps <= 100:
        raise InputError(f"the frame rate must be between 0 and 100 per second, got {fps}")
    if fmt == ".mp4" and (size[0] % 2 or size[1] % 2):
        raise InputError(f"an MP4 (H.264) needs an even width and height, got "
                         f"{size[0]}×{size[1]}; choose an even --size or a .gif")
    _encoder(fmt)
    return path


def write_frames(frames: Iterable[np.ndarray], path: str | os.PathLike, fps: float,
                 loop: bool = True) -> Iterator[int]:
    """Encode ``frames`` (RGB uint8) to ``path`` at ``fps``, yielding the count after each
    frame (stop iterating to cancel: the partial file is removed). The file appears only
    when complete (written under a temporary name, then renamed)."""
    path = Path(path)
    fmt = path.suffix.lower()
    tmp = path.with_name(f".{path.stem}.partial{fmt}")
    iio = _encoder(fmt)
    done = False
    try:
        if fmt == ".mp4":
            writer = iio.get_writer(tmp, format="FFMPEG", mode="I", fps=fps, codec="libx264",
                                    quality=9, macro_block_size=1, pixelformat="yuv420p",
                                    ffmpeg_log_level="error")
        else:
            writer = iio.get_writer(tmp, format="GIF", mode="I", duration=1000.0 / fps,
                                    loop=0 if loop else 1)
        with writer:
            for n, frame in enumerate(frames, 1):
                writer.append_data(np.ascontiguousarray(frame, dtype=np.uint8))
                yield n
        os.replace(tmp, path)
        done = True
    finally:
        if not done:
            tmp.unlink(missing_ok=True)


def _encoder(fmt: str):
    try:
        import imageio.v2 as iio
    except ImportError:
        raise InputError("animations need imageio: pip install 'lossviz[anim]'") from None
    if fmt == ".mp4":
        try:
            import imageio_ffmpeg  # noqa: F401
        except ImportError:
            raise InputError("MP4 animations need imageio-ffmpeg: pip install "
                             "'lossviz[anim]' (or write a .gif)") from None
    return iio
