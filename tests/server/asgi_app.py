"""A tiny ASGI app for the supervision tests (no FastAPI: it starts in a blink).

/health answers 503 until HEALTHY_AFTER requests were made, then 200; every answer is appended
to the file named by HEALTH_LOG, so a test can check that "ready" came after the first 200.
HEALTH_NEVER=1 keeps it at 503 forever; HEALTHY_AFTER_SECONDS=N answers 503 for N seconds.
"""

from __future__ import annotations

import os
import time
from typing import Any

_count = 0
_started = time.monotonic()


def _log(line: str) -> None:
    path = os.environ.get("HEALTH_LOG")
    if path:
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(line + "\n")


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    global _count
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                print("tiny app: startup", flush=True)
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                print("tiny app: shutdown", flush=True)
                await send({"type": "lifespan.shutdown.complete"})
                return
    if scope["type"] != "http":
        return
    status = 404
    if scope["path"] == "/health":
        _count += 1
        healthy = (
            os.environ.get("HEALTH_NEVER") != "1"
            and _count > int(os.environ.get("HEALTHY_AFTER", "0"))
            and time.monotonic() - _started >= float(os.environ.get("HEALTHY_AFTER_SECONDS", "0"))
        )
        status = 200 if healthy else 503
        _log(str(status))
    await send({"type": "http.response.start", "status": status, "headers": []})
    await send({"type": "http.response.body", "body": b"{}"})
