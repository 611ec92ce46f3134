"""The status file (schema 1): what the launcher prepared, for the backend and for scripts.

`<project>/.robo-backend/status.json`, handed to the backend as `ROBO_BACKEND_STATUS_FILE`.
It is always replaced atomically (temp file + rename), so a reader never sees half a document,
and prefetch rewrites it after every download attempt. The contract is in docs/status-file.md.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from launcher.fileops import DEFAULT_FILE_OPS, FileOps, read_state_json, write_state_text
from launcher.redact import redact

SCHEMA = 1


def _valid(data: Any) -> bool:
    """A schema-1 document whose parts have the types we write."""
    return (
        isinstance(data, dict)
        and data.get("schema") == SCHEMA
        and isinstance(data.get("updated_at", ""), str)
        and isinstance(data.get("model") or {}, dict)
        and isinstance(data.get("environment") or {}, dict)
    )


def read_status(path: Path) -> dict[str, Any] | None:
    """The status document, or None when the file is missing or is not one we could have written
    (the state file is untrusted input: see `fileops.read_state_json`)."""
    data = read_state_json(Path(path))
    return data if _valid(data) else None


def write_status(
    path: Path,
    *,
    model: dict[str, Any] | None = None,
    environment: dict[str, Any] | None = None,
    ops: FileOps = DEFAULT_FILE_OPS,
) -> dict[str, Any]:
    """Write the status file atomically (secrets masked) and return the document written.
    A part given as None keeps what the file holds; an unwritable file is a StateFileError."""
    target = Path(path)
    previous = read_status(target) or {}
    document: dict[str, Any] = {
        "schema": SCHEMA,
        "updated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "model": model if model is not None else previous.get("model"),
        "environment": environment if environment is not None else previous.get("environment"),
    }
    text = redact(json.dumps(document, indent=2, default=str))
    write_state_text(target, text + "\n", ops, what="the status file")
    return document
