"""The throughput floor: an attempt that receives less than `min_rate` bytes/s over a window ends.

It catches a hub that trickles bytes, which the read timeout never sees; the attempt ends as a
stall and the next one resumes from the partial file. The clock is a parameter for tests.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from launcher.models.failures import TRANSIENT, DownloadError
from launcher.values import format_bytes

SETTING = "min_download_rate"
DEFAULT_MIN_RATE = 1024.0  # bytes/s: below 1 kB/s over a stall_timeout window is a stall


class TooSlow(DownloadError):
    """An attempt ended by the floor: it received bytes, but too few to count as progress."""


class Floor:
    """Counts an attempt's bytes per window; `feed` raises TooSlow when a window falls short.

    `min_rate <= 0` or `window <= 0` turns the floor off.
    """

    def __init__(
        self,
        min_rate: float,
        window: float,
        what: str = "the model",
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.min_rate = max(min_rate, 0.0)
        self.window = max(window, 0.0)
        self.what = what
        self.clock = clock
        self.started = clock()
        self.counted = 0  # bytes since `started`

    @property
    def active(self) -> bool:
        return self.min_rate > 0 and self.window > 0

    def feed(self, nbytes: int) -> None:
        """Count `nbytes` just received; end the attempt when a whole window was too slow."""
        if not self.active:
            return
        self.counted += nbytes
        now = self.clock()
        elapsed = now - self.started
        if elapsed < self.window:
            return
        if self.counted < self.min_rate * elapsed:
            raise TooSlow(
                f"{self.what} came at {format_bytes(self.counted / elapsed)}/s over the last "
                f"{elapsed:.0f} s, below the floor of {format_bytes(self.min_rate)}/s "
                f"({SETTING}); ended as a stall",
                TRANSIENT,
                hint=f"The hub or the network is too slow. Lower {SETTING} (0 turns it off) to "
                "accept a slower download, or try again later.",
            )
        self.started, self.counted = now, 0
