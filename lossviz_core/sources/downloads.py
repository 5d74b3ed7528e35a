"""Pretrained weights are downloaded only when the user asked for them.

``ModelSpec.download`` says the user did (``--pretrained`` or ``--download`` on this command
line, the window's own choice); a recipe read back from a file never says so by itself.
Without it, :func:`no_download` lets torchvision and timm load weights already in their
caches and turns any attempt to fetch them into :class:`DownloadRefused`.
"""

from __future__ import annotations

import contextlib
import io
import sys
from collections.abc import Iterator
from unittest import mock


class DownloadRefused(Exception):
    """A library tried to download weights the user did not ask for."""


def _refuse(url: str, *args: object, **kwargs: object) -> None:
    raise DownloadRefused(url)


@contextlib.contextmanager
def no_download(allowed: bool) -> Iterator[None]:
    """Unless ``allowed``, block torch.hub's downloads (torchvision, timm's URLs) and put the
    Hugging Face hub (timm's other weights) offline for the duration."""
    if allowed:
        yield
        return
    import torch.hub

    said = io.StringIO()  # torch.hub announces "Downloading: ..." (on stdout) before it would
    with contextlib.ExitStack() as stack:
        stack.enter_context(mock.patch.object(torch.hub, "download_url_to_file", _refuse))
        hub = sys.modules.get("huggingface_hub.constants")
        if hub is None:
            with contextlib.suppress(ImportError):
                import huggingface_hub.constants as hub
        if hub is not None and hasattr(hub, "HF_HUB_OFFLINE"):
            stack.enter_context(mock.patch.object(hub, "HF_HUB_OFFLINE", True))
        stack.enter_context(contextlib.redirect_stdout(said))
        yield
    sys.stdout.write(said.getvalue())  # loaded from the cache: what it said is shown


def refused_message(what: str, pretrained: str) -> str:
    return (f"the pretrained weights {pretrained} of {what} are not downloaded yet, and "
            "nothing is downloaded unasked: pass --pretrained (or --download) on this command "
            "line to download them (needs internet)")
