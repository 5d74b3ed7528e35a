"""Executors: who evaluates a job's grid points. The local one uses this process's workspace.

An executor takes a job (its recipe, its workspace, its result) and a store, and is a
generator of :class:`~lossviz_core.progress.Chunk` s that returns the result, exactly as
:func:`~lossviz_core.run.grid.iter_surface`: the CLI's progress bar, the GUI worker and
notebooks drive any executor the same way. A cluster executor builds one workspace per
worker from the picklable recipe and the job's direction tensors.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any, Protocol

from lossviz_core.progress import Chunk
from lossviz_core.results.result import SurfaceResult
from lossviz_core.run.grid import iter_surface


class Executor(Protocol):
    name: str

    def run(self, job: Any, store: Any = None) -> Generator[Chunk, None, SurfaceResult]: ...


class LocalExecutor:
    """Points evaluated one chunk after another on the job's own workspace."""

    name = "local"

    def run(self, job: Any, store: Any = None) -> Generator[Chunk, None, SurfaceResult]:
        return iter_surface(job.workspace, job.result, store)
