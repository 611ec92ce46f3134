"""Load one embedding model with this Python's fastembed, as the backend will, and say how it went.

Run by the backend venv's python (standard library plus fastembed, Python 3.8-compatible) as
`MODEL PARENT_PID DEADLINE`; prints one JSON line {"ok", "fastembed", "model", "dim", "error",
"cause", "seconds"}. Only the pauses between fastembed's own retries are skipped. It ends by
itself when its parent is gone or its deadline has passed.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
import types
from typing import Any


def _watch(parent: int, deadline: float) -> None:
    """End this process when the launcher is gone or the deadline has passed."""
    end = time.monotonic() + deadline

    def watch() -> None:
        while True:
            time.sleep(0.25)
            if os.getppid() != parent or time.monotonic() > end:
                os._exit(124)

    threading.Thread(target=watch, name="load-model-watch", daemon=True).start()


def _errors_logged() -> list[str]:
    """What fastembed logs at error level while it loads (its reason for giving up)."""
    found: list[str] = []
    try:
        from loguru import logger
    except Exception:
        return found
    logger.add(lambda message: found.append(str(message.record["message"])), level="ERROR")
    return found


def _without_pauses() -> None:
    """fastembed's `time` module without `sleep` (it sleeps only between its retries)."""
    try:
        from fastembed.common import model_management
    except Exception:
        return
    if hasattr(model_management, "time"):
        no_pause = {**vars(time), "sleep": lambda seconds: None}
        model_management.time = types.SimpleNamespace(**no_pause)  # type: ignore[assignment]


def load(model: str) -> dict[str, Any]:
    out: dict[str, Any] = dict(ok=False, fastembed=None, model=model, dim=None, error=None)
    started = time.monotonic()
    logged = _errors_logged()
    try:
        import fastembed
        from fastembed import TextEmbedding

        out["fastembed"] = getattr(fastembed, "__version__", None)
        _without_pauses()
        embedder = TextEmbedding(model_name=model)
        vector = next(iter(embedder.embed(["a humanoid robot keeps its balance"])))
        out["dim"] = len(vector)
        out["ok"] = True
    except Exception as exc:
        out["error"] = f"{type(exc).__name__}: {exc}".strip()
    out["cause"] = logged[0] if logged and not out["ok"] else None
    out["seconds"] = round(time.monotonic() - started, 2)
    return out


if __name__ == "__main__":
    _watch(int(sys.argv[2]), float(sys.argv[3]))
    sys.stdout.write(json.dumps(load(sys.argv[1])) + "\n")
    sys.stdout.flush()
