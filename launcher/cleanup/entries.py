"""clear-cache's data: what the user selected, one entry per path, the plan, as typed values."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

SCHEMA = 1


class Action(str, Enum):
    """What happens (or happened) to an entry; the values are the JSON document's `action`."""

    WOULD_DELETE = "would-delete"
    DELETED = "deleted"
    SKIPPED = "skipped"


class Skip(str, Enum):
    """Why an entry is skipped: the decision the renderer needs, never parsed from the reason."""

    FOREIGN = "foreign"  # not created by robo-backend or fastembed
    LOCK_HELD = "lock-held"  # a live process holds the model's or the file's lock
    UNCHECKABLE = "uncheckable"  # --broken on a folder no known model explains
    MOVED = "moved"  # no longer inside the cache root when its turn came
    DELETE_FAILED = "delete-failed"  # the file system refused


@dataclass(frozen=True)
class Selection:
    """Which entries the user asked for (the flags of clear-cache)."""

    models: tuple[str, ...] = ()  # --model NAME (empty: every model)
    broken: bool = False  # --broken: only partial/corrupt models
    legacy: bool = False  # --legacy: also the old fastembed temp cache
    everything: bool = False  # --all: also stamps, stale lock files, the legacy cache


@dataclass
class Entry:
    """One path the plan deletes (or skips), with its size and the reason."""

    path: Path
    bytes: int
    kind: str  # model, legacy-model, locks, stamp, lock, temp, other
    reason: str
    action: Action = Action.WOULD_DELETE
    model: str | None = None
    skip: Skip | None = None

    def skipped_because(self, skip: Skip, reason: str) -> None:
        self.action = Action.SKIPPED
        self.skip = skip
        self.reason = reason

    def to_json(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "bytes": self.bytes,
            "kind": self.kind,
            "action": self.action.value,
            "reason": self.reason,
        }


def skipped(path: Path, size: int, kind: str, skip: Skip, reason: str, **extra: Any) -> Entry:
    """An entry planned as skipped from the start (foreign, or its lock is held)."""
    return Entry(path, size, kind, reason, action=Action.SKIPPED, skip=skip, **extra)


def count(items: int, noun: str = "entr") -> str:
    """`1 entry`, `3 entries`."""
    return f"{items} {noun}{'y' if items == 1 else 'ies'}"


@dataclass
class Plan:
    """What clear-cache will do: the roots it looked in and one entry per path."""

    root: Path
    entries: list[Entry] = field(default_factory=list)
    roots: list[Path] = field(default_factory=list)
    dry_run: bool = False

    def with_action(self, action: Action) -> list[Entry]:
        return [e for e in self.entries if e.action == action]

    @property
    def pending(self) -> list[Entry]:
        """Entries still to delete."""
        return self.with_action(Action.WOULD_DELETE)

    @property
    def failures(self) -> list[Entry]:
        """Entries that were to be deleted and could not be."""
        return [e for e in self.entries if e.skip in (Skip.MOVED, Skip.DELETE_FAILED)]

    @property
    def planned_bytes(self) -> int:
        return sum(e.bytes for e in self.pending)

    @property
    def freed_bytes(self) -> int:
        return sum(e.bytes for e in self.with_action(Action.DELETED))

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "dry_run": self.dry_run,
            "root": str(self.root),
            "entries": [e.to_json() for e in self.entries],
            "freed_bytes": self.freed_bytes,
        }
