"""Errors a user can act on. The CLI prints ``str(err)`` on one line; the GUI shows a dialog."""


class LossVizError(Exception):
    """Base class: a problem with the user's input or environment, not a bug."""


class InputError(LossVizError):
    """A malformed option: unknown model, bad range, invalid choice."""


class CheckpointError(LossVizError):
    """A checkpoint that cannot be read or does not fit the model."""


class DataError(LossVizError):
    """A dataset that is missing or malformed."""


class StoreError(LossVizError):
    """A result or direction file that cannot be read or written."""
