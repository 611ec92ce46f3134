"""How `up` shows what it does: the settings (`-v`), the model step's outcome, what serve() reports.

A console that can no longer be written to raises OSError from here; serve() takes it as a hangup.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from launcher.redact import redact
from launcher.server.health import Readiness
from launcher.server.supervise import ServeEvents
from launcher.ui import console

if TYPE_CHECKING:
    from launcher.settings import Settings


def show_settings(settings: Settings) -> None:
    """`up -v`: every setting with its value and where it came from."""
    for name, value, source in settings.as_table():
        console.info(f"  {name} = {value!r}  ({source})")


def model_summary(resolved: str | None, state: str) -> str:
    """The model step's detail: the model and its state, or what a degraded start means."""
    if state == "degraded" or not resolved:
        return (
            "no model: the backend runs DEGRADED, search answers 503; once "
            "`robo-backend prefetch` succeeds, restart `up`: the model is loaded at start"
        )
    return f"{resolved} ({state})"


def _print_raw(text: str) -> None:
    """One line of foreign text, exactly as given (no markup, no emoji, no highlighting)."""
    console.get_console().print(redact(text), markup=False, emoji=False, highlight=False)


@dataclass
class ConsoleEvents:
    """ServeEvents rendered on the console; `also_ready` runs after the ready line (run file)."""

    also_ready: list[Callable[[str, int], None]] = field(default_factory=list)
    also_started: list[Callable[[int], None]] = field(default_factory=list)
    ready_note: str = ""
    health_url: str = ""
    degraded: bool = False  # no embedding model: the ready line says so, not a plain ✓

    def events(self) -> ServeEvents:
        return ServeEvents(
            ready=self.ready,
            health=self.health,
            started=self.started,
            output=_print_raw,
            stopping=self.stopping,
            stopped=self.stopped,
            exited=self.exited,
        )

    def started(self, pid: int) -> None:
        for hook in self.also_started:
            hook(pid)

    def health(self, readiness: Readiness) -> None:
        """How readiness was decided: a note for the ready line, a warning when there was no
        health route to ask."""
        self.health_url = readiness.health_url
        self.ready_note = readiness.note
        if readiness.warning:
            console.warn(readiness.warning)

    def ready(self, url: str, pid: int) -> None:
        note = f"; {self.ready_note}" if self.ready_note else ""
        if self.degraded:
            console.line(
                "warn",
                f"Backend ready at {url} (pid {pid}{note}) in DEGRADED mode: no embedding model "
                "(the warning above says why and what to do)",
            )
        else:
            console.line("ok", f"Backend ready at {url} (pid {pid}{note})")
        for hook in self.also_ready:
            hook(url, pid)

    def stopping(self, pid: int, reason: str) -> None:
        why = "to start it again with the model" if reason == "restart" else "and its processes"
        console.info(f"stopping the backend (pid {pid}) {why}...")

    def stopped(self, seconds: float) -> None:
        console.info(f"backend stopped ({seconds:.1f} s)")

    def exited(self, code: int, tail: list[str]) -> None:
        console.line("fail" if code else "warn", f"the backend exited with code {code}")
        if tail:
            console.info(f"its last {len(tail)} lines:")
            for text in tail:
                _print_raw("  " + text)
