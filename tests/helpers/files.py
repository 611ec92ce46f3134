"""Small helpers for tests that write a project tree and watch what the launcher warns."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path


def write(project: Path, files: dict[str, str]) -> Path:
    """Write `files` (relative path → text) under `project`; returns `project`."""
    for relative, text in files.items():
        path = project / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return project


def warnings_while(run: Callable[[], object]) -> list[str]:
    """The loguru warnings (and worse) logged while `run()` runs, as plain messages."""
    from loguru import logger

    messages: list[str] = []
    handler = logger.add(
        lambda m: messages.append(m.rstrip("\n")), level="WARNING", format="{message}"
    )
    try:
        run()
    finally:
        logger.remove(handler)
    return messages
