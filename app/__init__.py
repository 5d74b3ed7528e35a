"""LossViz desktop application (Qt). The engine lives in :mod:`lossviz_core`."""

from lossviz_core import __version__

__all__ = ["__version__"]
