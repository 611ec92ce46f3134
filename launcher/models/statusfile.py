"""The status file (schema 1): what the launcher prepared, for the backend and for scripts.

`<project>/.robo-backend/status.json`, handed to the backend as `ROBO_BACKEND_STATUS_FILE`.
It is always replaced atomically (temp file + rename), so a reader never sees half a document,
and prefetch rewrites it after every download attempt. The contract is in docs/status-file.md.
"""

from __future__ import annotations

import errno
import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from launcher.errors import LauncherError
from launcher.fileops import DEFAULT_FILE_OPS, FileOps, atomic_write_text
from launcher.models.verified import read_json
from launcher.redact import redact

SCHEMA = 1
MODEL_STATES = ("ready", "fallback", "degraded", "failed")


class StatusFileError(LauncherError):
    """The status file cannot be written (a full disk, a read-only folder): `up` does not serve
    without it, since the backend reads from it which model to load and what state it is in."""


def read_status(path: Path) -> dict[str, Any] | None:
    """The status document, or None when the file is missing or is not a schema-1 document."""
    data = read_json(Path(path))
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        return None
    return data


def write_status(
    path: Path,
    *,
    model: dict[str, Any] | None = None,
    environment: dict[str, Any] | None = None,
    ops: FileOps = DEFAULT_FILE_OPS,
) -> dict[str, Any]:
    """Write the status file atomically and return the document written.

    A part given as None keeps what the file already holds (so prefetch can update `model`
    without knowing the `environment` that `up` recorded, and the other way round). Raises
    StatusFileError (one line and a hint) when it cannot be written.
    """
    target = Path(path)
    previous = read_status(target) or {}
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": model if model is not None else previous.get("model"),
        "environment": environment if environment is not None else previous.get("environment"),
    }
    # No secret goes into the file: credentials in URLs (an endpoint's userinfo) and the
    # values of secret variables are masked as everywhere else.
    text = redact(json.dumps(document, indent=2, default=str))
    try:
        atomic_write_text(target, text + "\n", ops)
    except OSError as exc:
        raise _cannot_write(target, exc) from None
    return document


def _cannot_write(target: Path, exc: OSError) -> StatusFileError:
    why = exc.strerror or str(exc)
    full = exc.errno in (errno.ENOSPC, getattr(errno, "EDQUOT", -1))
    fix = "Free some space on that drive" if full else "Make that folder writable"
    return StatusFileError(
        f"cannot write the status file {target}: {why}" + (" (the disk is full)" if full else ""),
        f"{fix}, or move the state folder (state_dir in [tool.robo-backend] or "
        "ROBO_BACKEND_STATE_DIR); `robo-backend doctor` checks it.",
    )
