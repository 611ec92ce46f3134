"""Keep the embedding model consistent across runs, and say so loudly when it is not.

Stored vectors were made by one model, and bge-small and MiniLM have the same dimension, so a
switch breaks searches silently. The status file remembers the model the runs used; a switch is
recorded and warned about, or refused with `allow_model_switch = false`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.errors import ModelError
from launcher.models.statusfile import read_status, write_status


@dataclass(frozen=True)
class ModelSwitch:
    """The model the runs so far used (`before`) and the one this run resolved (`now`)."""

    before: str
    now: str

    def warning(self) -> str:
        return (
            f"the embedding model changed: the last run used {self.before}, this one uses "
            f"{self.now}. Vectors stored with {self.before} do not match {self.now}'s (same "
            "dimension, so nothing fails: searches just get worse). Re-index them, or set "
            "allow_model_switch = false in [tool.robo-backend] to refuse a switch."
        )


def _recorded(status_file: Path) -> dict[str, Any]:
    """The status file's `model` object ({} when there is none)."""
    model = (read_status(status_file) or {}).get("model")
    return model if isinstance(model, dict) else {}


def last_used_model(status_file: Path) -> str | None:
    """The model the previous runs used, from the status file (None on a first run)."""
    model = _recorded(status_file)
    used = model.get("last_used") or model.get("resolved")
    return used if isinstance(used, str) and used else None


def settle_model(
    status_file: Path, model: dict[str, Any], before: str | None, *, allow_switch: bool = True
) -> ModelSwitch | None:
    """Record this run's model against `before` (`changed_from`, `last_used` in the status
    file); the switch, or None. With `allow_switch` False a switch raises ModelError and the
    status file keeps `before`."""
    now = model.get("resolved")
    switched = bool(before and now and str(now).lower() != before.lower())
    if switched and not allow_switch:
        refused = dict(model, state="failed", resolved=None, path=None, refused=now)
        refused.update(changed_from=None, last_used=before)
        write_status(status_file, model=refused)
        raise ModelError(
            f"this run would switch the embedding model from {before} to {now}, and "
            "allow_model_switch = false",
            f"Make {before} available again (`robo-backend prefetch` while the hub is "
            "reachable), or re-index your stored vectors and set allow_model_switch = true.",
        )
    recorded = dict(model, changed_from=before if switched else None, last_used=now or before)
    write_status(status_file, model=recorded)
    if switched:
        return ModelSwitch(str(before), str(now))
    return None


def last_switch(status_file: Path) -> ModelSwitch | None:
    """The switch the last run recorded (for `doctor`), or None."""
    model = _recorded(status_file)
    if not model.get("changed_from"):
        return None
    now = model.get("resolved") or model.get("last_used")
    return ModelSwitch(str(model["changed_from"]), str(now)) if now else None
