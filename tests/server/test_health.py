"""Readiness against real uvicorn apps: the health route is found, never assumed.

Apps shaped like real backends (routes_app.py): the health route only under /api, no health
route, no OpenAPI; plus a configured route that does not exist, and an app that answers 503
for a while (the polls must back off, not flood its access log).
"""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

import pytest

from launcher.errors import ServerError
from launcher.server.health import Readiness, health_routes
from launcher.server.port import pick_free_port
from launcher.server.supervise import ServeEvents, ServeTarget, serve
from tests.helpers.serve_driver import uvicorn_argv

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="POSIX signal paths")
HERE = Path(__file__).parent


class Seen:
    """What serve() reported: output lines, the readiness, the ready call."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.readiness: Readiness | None = None
        self.ready_pid: int | None = None

    def events(self) -> ServeEvents:
        def ready(url: str, pid: int) -> None:
            self.ready_pid = pid
            os.kill(os.getpid(), signal.SIGINT)  # stop once ready

        def health(readiness: Readiness) -> None:
            self.readiness = readiness

        return ServeEvents(ready=ready, health=health, output=self.lines.append)

    def requests(self, path: str) -> list[str]:
        return [line for line in self.lines if f'"GET {path} HTTP' in line]


def run_app(tmp_path: Path, shape: str, *, discover: bool, path: str = "/health") -> Seen:
    port = pick_free_port("127.0.0.1")
    seen = Seen()
    argv = uvicorn_argv(port)
    argv[argv.index("asgi_app:app")] = "routes_app:app"
    code = serve(
        argv,
        env=dict(os.environ, ROUTES=shape),
        cwd=tmp_path,
        target=ServeTarget(
            f"http://127.0.0.1:{port}",
            f"http://127.0.0.1:{port}{path}",
            60,
            discover_health=discover,
        ),
        events=seen.events(),
    )
    assert code == 130
    return seen


def test_a_health_route_under_a_router_prefix_is_found_in_the_openapi(tmp_path: Path) -> None:
    seen = run_app(tmp_path, "api", discover=True)
    assert seen.readiness is not None and seen.ready_pid is not None
    assert seen.readiness.health_url.endswith("/api/health")
    assert seen.readiness.note == "health route /api/health found in the app's OpenAPI"
    assert seen.readiness.warning == ""
    assert len(seen.requests("/health")) == 1  # one 404, then the OpenAPI, then /api/health
    assert len(seen.requests("/openapi.json")) == 1
    assert len(seen.requests("/api/health")) == 1


def test_no_health_route_means_ready_on_the_first_answer_with_a_warning(tmp_path: Path) -> None:
    for shape in ("none", "docs-off"):
        seen = run_app(tmp_path, shape, discover=True)
        assert seen.readiness is not None, shape
        assert "no health route" in seen.readiness.warning
        assert "health_path" in seen.readiness.warning
        assert len(seen.requests("/health")) == 1, seen.lines


def test_a_configured_health_path_that_404s_is_an_error_not_a_long_wait(tmp_path: Path) -> None:
    with pytest.raises(ServerError) as caught:
        run_app(tmp_path, "api", discover=False, path="/healthz")
    error = caught.value
    assert "the health path /healthz answers 404" in error.message
    assert "/api/health" in error.hint  # the route the app does have
    assert "did not answer 200" not in error.message  # not the 60 s ready timeout


def test_polls_back_off_while_the_app_answers_503(tmp_path: Path) -> None:
    """3 s of 503 while the app loads: a handful of requests in its access log, not 60."""
    port = pick_free_port("127.0.0.1")
    log = tmp_path / "health.log"
    seen = Seen()
    code = serve(
        uvicorn_argv(port),
        env=dict(os.environ, HEALTH_LOG=str(log), HEALTHY_AFTER_SECONDS="3"),
        cwd=tmp_path,
        target=ServeTarget(f"http://127.0.0.1:{port}", f"http://127.0.0.1:{port}/health", 60),
        events=seen.events(),
    )
    assert code == 130
    answers = log.read_text().split()
    assert answers[-1] == "200"
    assert 2 <= answers.count("503") <= 8, answers


def test_health_routes_are_read_from_an_openapi_document() -> None:
    document = {
        "servers": [{"url": "/backend"}],
        "paths": {
            "/api/v1/internal/health": {"get": {}},
            "/api/health": {"get": {}},
            "/api/healthz": {"post": {}},
            "/api/{name}/health": {"get": {}},
            "/api/healthy-items": {"get": {}},
        },
    }
    assert health_routes(document) == ["/backend/api/health", "/backend/api/v1/internal/health"]
    assert health_routes({"paths": "nonsense"}) == []
    assert health_routes(None) == []
