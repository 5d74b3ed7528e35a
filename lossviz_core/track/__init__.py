"""Geometry while a model trains: a callback for any training loop, and what it records.

:class:`Tracker` (:mod:`.tracker`) is called once per optimizer step and every N steps
appends a record to ``RUN/track.jsonl`` (:mod:`.records`): λmax by Lanczos warm-started from
the last eigenvector, critical sharpness from a few forward passes along the update, a 1-D
slice along the update, the gradient norm, checkpoints for a PCA plane
(:mod:`.measures`). :mod:`.lightning` and :mod:`.hf` wrap it as a PyTorch Lightning
callback and a transformers ``TrainerCallback``; :mod:`.plot` draws the edge-of-stability
figure (λmax and 2/lr, and the loss, against steps).
"""

from lossviz_core.track.measures import DEFAULT_MEASURES, TRACK_MEASURES, check_measures
from lossviz_core.track.records import TRACK_FILE, read_track, series, track_path
from lossviz_core.track.tracker import Tracker

__all__ = ["DEFAULT_MEASURES", "TRACK_FILE", "TRACK_MEASURES", "Tracker", "check_measures",
           "read_track", "series", "track_path"]
