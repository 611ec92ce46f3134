"""Progress reporting as the download engine sees it: protocols the UI implements."""

from __future__ import annotations

from contextlib import AbstractContextManager
from typing import Protocol


class Progress(Protocol):
    """What the download engine reports bytes to."""

    def advance(self, nbytes: int) -> None: ...

    def set_completed(self, nbytes: int) -> None: ...


class ProgressFactory(Protocol):
    """Opens the progress display of one model: `factory(label, total, completed)`."""

    def __call__(
        self, label: str, total: int, completed: int
    ) -> AbstractContextManager[Progress | None]: ...
