"""What `status` reports: is the project's backend running, where, is it healthy, which model.

Built from the run file (the processes, the URL), one health request, and the status file (the
model the last `up` prepared). No output here: `commands/status.py` renders it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from launcher.server import health
from launcher.server.claim import Holder, live_holder
from launcher.server.runfile import RunRecord, RunState, inspect_run, read_run

HEALTH_TIMEOUT = 2.0


@dataclass
class BackendStatus:
    """The answer of `robo-backend status`."""

    project: Path
    state: RunState
    record: RunRecord | None
    health_url: str | None = None
    health_status: int | None = None  # the HTTP status, None when nothing answered
    model: dict[str, Any] = field(default_factory=dict)
    starting: Holder | None = None  # an `up` that holds the claim but serves nothing yet

    @property
    def running(self) -> bool:
        return self.state in {RunState.RUNNING, RunState.ORPHAN}

    @property
    def healthy(self) -> bool:
        return self.running and self.health_status == 200

    def to_json(self) -> dict[str, Any]:
        record = self.record if self.running else None
        started = None
        if record is not None:
            started = datetime.fromtimestamp(record.started_at, timezone.utc).isoformat(
                timespec="seconds"
            )
        return {
            "project": str(self.project),
            "running": self.running,
            "state": self.state.value,
            "url": record.url if record else None,
            "backend_pid": record.backend_pid if record else None,
            "launcher_pid": record.launcher_pid if record else None,
            "launcher_alive": self.state is RunState.RUNNING,
            "started_at": started,
            "health": {
                "url": self.health_url,
                "status": self.health_status,
                "ok": self.healthy,
            },
            "model": self.model,
            "starting": _starting_json(self.starting),
        }


def _starting_json(holder: Holder | None) -> dict[str, Any] | None:
    if holder is None:
        return None
    since = datetime.fromtimestamp(holder.since, timezone.utc).isoformat(timespec="seconds")
    return {"launcher_pid": holder.pid, "since": since}


def _model_state(status_file: Path) -> dict[str, Any]:
    from launcher.models.statusfile import read_status

    document = read_status(status_file) or {}
    model = document.get("model") or {}
    if not isinstance(model, dict):
        return {}
    keys = ("state", "resolved", "requested", "changed_from", "background")
    found = {key: model.get(key) for key in keys if model.get(key) is not None}
    if found and document.get("updated_at"):
        found["updated_at"] = document["updated_at"]
    return found


def backend_status(
    project: Path, state_dir: Path, status_file: Path, health_path: str
) -> BackendStatus:
    """The project's backend as it is right now (one health request when it runs)."""
    record = read_run(state_dir)
    state = inspect_run(record)
    report = BackendStatus(project=project, state=state, record=record)
    report.model = _model_state(status_file)
    if not report.running:
        report.starting = live_holder(state_dir, wait=0)
    if record is not None and report.running:
        url = record.health_url or (record.url + health_path)
        report.health_url = url
        report.health_status = health.status_of(
            health.opener(), health.probe_url(url), timeout=HEALTH_TIMEOUT
        )
    return report
