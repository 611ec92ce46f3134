"""Readiness: poll the backend's health route until it answers 200.

No proxies (the backend is on this machine), and a wildcard bind address is polled on loopback.
"""

from __future__ import annotations

from typing import Any


def opener() -> Any:
    """A urllib opener that ignores HTTP(S)_PROXY: the backend is on this machine."""
    import urllib.request

    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe_url(url: str) -> str:
    """The URL to poll: a wildcard bind address (0.0.0.0, ::) is not something a client can
    connect to on Windows, so the health check goes to the loopback address instead."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(url)
    loopback = {"0.0.0.0": "127.0.0.1", "::": "[::1]"}.get(parts.hostname or "")
    if loopback is None:
        return url
    netloc = loopback + (f":{parts.port}" if parts.port else "")
    return urlunsplit(parts._replace(netloc=netloc))


def status_of(client: Any, url: str, timeout: float) -> int | None:
    """The HTTP status `url` answers with, or None when nothing answered (yet)."""
    import urllib.error

    try:
        with client.open(url, timeout=timeout) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return int(exc.code)
    except Exception:  # URLError, resets, bad status lines: not up yet
        return None
