"""Secrets never leave the launcher: planted in an endpoint URL, a proxy and `.env` variants,
then looked for in every output of real `doctor` and `prefetch` runs (stdout, stderr, the JSON
document, the log file)."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from launcher.redact import dotenv_secrets, redact_url
from tests.helpers.cli import CliRunner

MIRROR_USER = "planted-mirror-user"
MIRROR_PASSWORD = "planted-mirror-pass-7781"
PROXY_PASSWORD = "planted-proxy-pass-3319"
# .env variants: python-dotenv's grammar, as the backend itself reads the file
DOTENV = {
    "INLINE_COMMENT": ('INLINE_COMMENT="planted-inline-1122" # prod', "planted-inline-1122"),
    "SINGLE_QUOTED": ("SINGLE_QUOTED='planted single 3344'", "planted single 3344"),
    "EXPORTED": ("export EXPORTED=planted-exported-5566", "planted-exported-5566"),
    "UNQUOTED_COMMENT": ("UNQUOTED_COMMENT=planted-bare-7788 # note", "planted-bare-7788"),
    "MULTILINE": ('MULTILINE="planted-first-9900\nplanted-second-9911"', "planted-second-9911"),
    "PLAIN_NAME": ("DATABASE=planted-db-name-1357", "planted-db-name-1357"),  # no secret-ish name
}


class MirrorHandler(BaseHTTPRequestHandler):
    """A mirror that answers only with the right Basic login (like a corporate hub proxy)."""

    expected = "Basic " + base64.b64encode(f"{MIRROR_USER}:{MIRROR_PASSWORD}".encode()).decode()

    def do_GET(self) -> None:  # noqa: N802 - http.server's naming
        ok = self.headers.get("Authorization") == self.expected
        body = b"{}" if ok else b'{"error": "login required"}'
        self.send_response(200 if ok else 401)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def mirror() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), MirrorHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{MIRROR_USER}:{MIRROR_PASSWORD}@127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_url_credentials_are_masked_in_any_text() -> None:
    text = "GET http://u:p%40ss@mirror:8080/api failed; proxy https://tok@proxy/ too"
    assert redact_url(text) == "GET http://***@mirror:8080/api failed; proxy https://***@proxy/ too"
    assert redact_url("mail me at a@b.example") == "mail me at a@b.example"


def test_every_dotenv_value_is_parsed_like_python_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    plain = ["PORT=8000", "DEBUG=true", "HOST=127.0.0.1", "DB_HOST=localhost", "APP_ENV=test"]
    lines = [line for line, _ in DOTENV.values()] + plain + ["DB_PASSWORD=ab12"]
    dotenv.write_text("\n".join(lines) + "\n", encoding="utf-8")
    found = set(dotenv_secrets(dotenv))
    for _line, value in DOTENV.values():
        assert value in found, value
    assert not any("# prod" in v or "# note" in v for v in found)  # comments are not values
    # numbers, flags, loopback hosts and short words stay readable in every output ...
    assert not found & {"8000", "true", "127.0.0.1", "localhost", "test"}
    assert "ab12" in found  # ... unless their name says they are secret


def test_planted_secrets_reach_no_output_and_no_log(
    project: Path, mirror: str, tmp_path: Path, run_cli: CliRunner
) -> None:
    (project / "main.py").write_text("from fastapi import FastAPI\napp = FastAPI()\n", "utf-8")
    (project / ".env").write_text(
        "\n".join(line for line, _ in DOTENV.values()) + "\n", encoding="utf-8"
    )
    dotenv_values = [value for _, value in DOTENV.values()]
    env = {
        "HF_ENDPOINT": mirror,
        "HTTPS_PROXY": f"http://proxy-user:{PROXY_PASSWORD}@127.0.0.1:9",
        "NO_PROXY": "127.0.0.1,localhost",
        # each .env value placed where doctor prints it: it is there to leak
        "ROBO_BACKEND_HEALTH_PATH": "/health?k=" + "&".join(dotenv_values[:3]),
        "ROBO_BACKEND_FALLBACK_MODEL": dotenv_values[5],
        "ROBO_BACKEND_CACHE_DIR": str(tmp_path / "cache"),
    }
    runs = [
        run_cli("doctor", "-p", str(project), env=env),
        run_cli("doctor", "-p", str(project), "-v", env=env),
        run_cli("doctor", "-p", str(project), "--json", env=env),
        run_cli(
            "prefetch",
            "-p",
            str(project),
            "--json",
            "--retries",
            "1",
            "--retry-delay",
            "0",
            env=env,
        ),
    ]
    log = Path(os.environ["ROBO_BACKEND_LOG_DIR"]) / "robo-backend.log"
    status = project / ".robo-backend" / "status.json"
    texts = [r.stdout for r in runs] + [r.stderr for r in runs] + [log.read_text("utf-8")]
    if status.exists():  # written when prefetch records a model state
        texts.append(status.read_text("utf-8"))
    planted = [MIRROR_PASSWORD, MIRROR_USER, PROXY_PASSWORD, *dotenv_values]
    for value in planted:
        for text in texts:
            assert value not in text, (value, text[:2000])

    # the endpoint was shown (masked), and reached with its login: not "unreachable"
    hub = next(c for c in json.loads(runs[2].stdout)["checks"] if c["id"] == "hub")
    assert hub["details"]["endpoint"].startswith("http://***@127.0.0.1:")
    assert hub["status"] == "ok" and hub["details"]["status"] == 200, hub
    assert "/health?k=***" in runs[0].stdout  # hidden, not dropped


def test_a_logged_traceback_is_redacted_in_the_log_file(tmp_path: Path) -> None:
    # a traceback quoting a credentialed URL (an HTTP client's error) must not reach the file
    code = (
        "from loguru import logger\n"
        "from launcher.ui import console\n"
        "console.setup_logging()\n"
        "try:\n"
        f"    raise RuntimeError('GET http://u:{MIRROR_PASSWORD}@mirror/x failed')\n"
        "except RuntimeError as exc:\n"
        "    logger.opt(exception=exc).debug('probe failed')\n"
    )
    logs = tmp_path / "logs"
    env = {"ROBO_BACKEND_LOG_DIR": str(logs), "HF_ENDPOINT": f"http://u:{MIRROR_PASSWORD}@m/"}
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    text = (logs / "robo-backend.log").read_text("utf-8")
    assert "RuntimeError: GET http://***@mirror/x failed" in text  # kept, with the login hidden
    assert MIRROR_PASSWORD not in text + done.stdout + done.stderr
