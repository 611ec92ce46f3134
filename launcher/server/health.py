"""Readiness: poll the backend's health route until it answers 200, finding the route if need be.

No proxies (the backend is on this machine), and a wildcard bind address is polled on loopback.
When the default `/health` is missing, the route is looked up in the app's OpenAPI; polls back
off once the app answers, so its access log is not flooded.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from launcher.errors import ServerError


def opener() -> Any:
    """A urllib opener that ignores HTTP(S)_PROXY: the backend is on this machine."""
    import urllib.request

    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe_url(url: str) -> str:
    """The URL to poll: a wildcard bind address (0.0.0.0, ::) is polled on loopback."""
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


# What a health route is called: the last segment of a GET route without path parameters.
HEALTH_NAMES = ("health", "healthz", "healthcheck", "health-check", "health_check")
CONFIGURED_404_GRACE = 3.0  # a configured route that 404s this long is an error
OPENAPI_PATH = "/openapi.json"
OPENAPI_LIMIT = 5 * 1024 * 1024
# Poll pacing: nothing listening yet costs the backend nothing (no access-log line), so poll
# fast; once it answers, but not 200, back off so its access log is not flooded.
FAST = 0.05
ANSWERED_FIRST = 0.25
ANSWERED_MAX = 1.0


@dataclass
class Readiness:
    """The backend is ready: on which URL, and what to say about how that was decided."""

    health_url: str
    note: str = ""  # for the ready line ("health route /api/health found in the OpenAPI")
    warning: str = ""  # said as a warning (ready without any health route)


def _get_json(client: Any, url: str, timeout: float) -> Any:
    try:
        with client.open(url, timeout=timeout) as response:
            if int(response.status) != 200:
                return None
            return json.loads(response.read(OPENAPI_LIMIT))
    except Exception:  # not there, not JSON, too slow: no OpenAPI to read
        return None


def health_routes(document: Any) -> list[str]:
    """GET routes of an OpenAPI document named like a health check, best first: the
    shortest path, so `/api/health` comes before `/api/v1/internal/health`."""
    if not isinstance(document, dict) or not isinstance(document.get("paths"), dict):
        return []
    prefix = ""
    servers = document.get("servers")
    if isinstance(servers, list) and servers and isinstance(servers[0], dict):
        first = str(servers[0].get("url", ""))
        prefix = first.rstrip("/") if first.startswith("/") else ""
    found = []
    for path, operations in document["paths"].items():
        if not isinstance(path, str) or "{" in path or not isinstance(operations, dict):
            continue
        if "get" not in operations:
            continue
        last = path.rstrip("/").rsplit("/", 1)[-1].lower()
        if last in HEALTH_NAMES:
            found.append(prefix + path)
    return sorted(found, key=lambda route: (route.count("/"), len(route), route))


class HealthProbe:
    """Polls the health route. `discover` (the default `/health`): on a 404 the app's OpenAPI is
    read for a GET route named like health, else the first HTTP answer means ready (with a
    warning). A configured route that 404s for CONFIGURED_404_GRACE s is a ServerError."""

    def __init__(
        self,
        health_url: str,
        *,
        discover: bool,
        client: Any = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        parts = urlsplit(probe_url(health_url))
        self.base = urlunsplit(parts._replace(path="", query="", fragment=""))
        self.path = parts.path or "/"
        self.discover = discover
        self.client = client if client is not None else opener()
        self.clock = clock
        self.first_404: float | None = None
        self.answers = 0
        self.note = ""

    @property
    def url(self) -> str:
        return self.base + self.path

    def check(self, timeout: float) -> Readiness | None:
        """One poll: Readiness when ready, None when not yet; ServerError for a route that
        does not exist."""
        status = status_of(self.client, self.url, timeout)
        if status is None:
            return None
        self.answers += 1
        if status == 200:
            return Readiness(self.url, self.note)
        if status == 404:
            return self._not_found(timeout)
        return None

    def delay(self) -> float:
        """How long to wait before the next poll."""
        if not self.answers:
            return FAST
        return min(ANSWERED_MAX, ANSWERED_FIRST * 2 ** (self.answers - 1))

    def _not_found(self, timeout: float) -> Readiness | None:
        if not self.discover:
            now = self.clock()
            self.first_404 = self.first_404 if self.first_404 is not None else now
            if now - self.first_404 >= CONFIGURED_404_GRACE:
                raise self._missing_route(timeout)
            return None
        self.discover = False  # one look at the OpenAPI; a found route is then held to it
        document = _get_json(self.client, self.base + OPENAPI_PATH, timeout)
        routes = health_routes(document)
        if routes:
            self.path = routes[0]
            self.note = f"health route {routes[0]} found in the app's OpenAPI"
            return self.check(timeout)
        return Readiness(
            self.base + "/",
            "answers HTTP; no health route",
            f"the app has no {self.path} and its OpenAPI lists no health route: it is "
            "declared ready because it answers HTTP; set health_path to a route that answers "
            "200 only when the app can serve",
        )

    def _missing_route(self, timeout: float) -> ServerError:
        routes = health_routes(_get_json(self.client, self.base + OPENAPI_PATH, timeout))
        found = f" (the app's OpenAPI lists {', '.join(routes)})" if routes else ""
        return ServerError(
            f"the health path {self.path} answers 404: the app has no such route",
            f"Set health_path to a route the app has{found}, or remove the setting to let "
            "`up` find it.",
        )
