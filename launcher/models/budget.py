"""The model step's budget: how long the whole chain may go without making progress.

Only attempts that received less than the floor's rate (and the delays after them) are charged,
so a working download is never stopped by the budget. Once it has run out no new attempt starts,
the rest of the chain is skipped unless cached, and the backend starts degraded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SETTING = "model_budget"
MIN_TIMEOUT = 0.05  # never hand a client "0", which means "no timeout"
HOW_TO_CHANGE = (
    "Raise model_budget (in [tool.robo-backend] or ROBO_BACKEND_MODEL_BUDGET; 0 turns it off) "
    "to wait longer, or run `robo-backend prefetch` once the hub answers"
)


@dataclass
class Budget:
    """Seconds without progress the model step may spend (`seconds` <= 0: no budget)."""

    seconds: float
    spent: float = 0.0

    @property
    def limited(self) -> bool:
        return self.seconds > 0 and math.isfinite(self.seconds)

    def remaining(self) -> float:
        return max(self.seconds - self.spent, 0.0) if self.limited else math.inf

    def exhausted(self) -> bool:
        return self.remaining() <= 0.0

    def charge(self, seconds: float) -> None:
        """Charge time that brought no progress."""
        self.spent += max(seconds, 0.0)

    def cap(self, timeout: float) -> float:
        """`timeout` (0: none) shortened to what is left of the budget."""
        if not self.limited:
            return timeout
        remaining = max(self.remaining(), MIN_TIMEOUT)
        return remaining if timeout <= 0 else min(timeout, remaining)

    def exhaust(self) -> None:
        self.spent = max(self.spent, self.seconds)

    def reason(self, endpoint: str, spent: float | None = None) -> str:
        """Why the step stopped: all of the budget went by, or what is left cannot hold the
        next attempt (`spent`: what had gone by then)."""
        if spent is not None and spent < self.seconds:
            return (
                f"the model step's budget ran out: {spent:.0f} s of its {self.seconds:g} s "
                f"({SETTING}) went by without progress from {endpoint}, too little is left for "
                "another attempt"
            )
        return (
            f"the model step's budget ran out: {self.seconds:g} s ({SETTING}) went by without "
            f"progress from {endpoint}"
        )
