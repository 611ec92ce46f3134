"""`robo-backend doctor` as a user and a script run it: a real subprocess, real hub and sockets."""

from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from launcher.checks import CHECK_IDS
from launcher.server.port import port_holder
from tests.fakehub.fixtures import BGE_MODEL, MINILM_MODEL
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CLI
from tests.helpers.schemas import DOCTOR_SCHEMA, validate

LINUX_IDS = [i for i in CHECK_IDS if i not in ("powershell-policy", "long-paths", "model")]


def doctor(
    project: Path, *args: str, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    if args and args[0] in ("-v", "-q"):  # a global option before the command
        return CLI(args[0], "doctor", "-p", str(project), *args[1:], env=env)
    return CLI("doctor", "-p", str(project), *args, env=env)


@pytest.fixture
def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def held_port() -> Iterator[int]:
    """A port this test process listens on for the duration of the test."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


@pytest.fixture
def env(fake_hub: FakeHub, free_port: int) -> dict[str, str]:
    """A machine where nothing fails: the loopback hub, a free port."""
    return {"HF_ENDPOINT": fake_hub.url, "ROBO_BACKEND_PORT": str(free_port)}


def test_json_is_one_document_with_the_stable_schema(project: Path, env: dict[str, str]) -> None:
    done = doctor(project, "--json", env=env)
    data = json.loads(done.stdout)
    validate(data, DOCTOR_SCHEMA)
    ids = [c["id"] for c in data["checks"]]
    assert [i for i in ids if not i.startswith("model:")] == LINUX_IDS
    assert f"model:{BGE_MODEL}" in ids and f"model:{MINILM_MODEL}" in ids
    assert data["ok"] is True and done.returncode == 0, done.stderr
    hub = next(c for c in data["checks"] if c["id"] == "hub")
    assert hub["status"] == "ok" and hub["details"]["endpoint"] == env["HF_ENDPOINT"]


def test_json_with_verbose_keeps_stdout_for_the_document_alone(
    project: Path, env: dict[str, str]
) -> None:
    done = doctor(project, "--json", "-v", env=env)
    data = json.loads(done.stdout)  # nothing but the document on stdout, logs included
    assert data["schema"] == 1
    assert "[✓]" not in done.stdout + done.stderr  # no human report beside the JSON


def test_a_failing_check_means_exit_1_and_ok_false(
    project: Path, env: dict[str, str], held_port: int
) -> None:
    env = {**env, "ROBO_BACKEND_PORT": str(held_port)}
    done = doctor(project, "--json", env=env)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    validate(data, DOCTOR_SCHEMA)
    assert data["ok"] is False
    port = next(c for c in data["checks"] if c["id"] == "port")
    assert port["status"] == "fail"
    assert f"pid {os.getpid()}" in port["summary"]


def test_human_output_marks_each_check_and_puts_the_hint_under_failures(
    project: Path, env: dict[str, str], held_port: int
) -> None:
    done = doctor(project, env={**env, "ROBO_BACKEND_PORT": str(held_port)})
    assert done.returncode == 1
    # the report is on stdout, so `doctor | less` shows it (like flutter doctor, brew doctor)
    assert "[✗] port" not in done.stderr
    lines = done.stdout.splitlines()
    assert any(line.startswith("[✓] ") for line in lines)
    assert any(line.startswith("[!] no venv at .venv yet") for line in lines)
    index = next(i for i, line in enumerate(lines) if line.startswith("[✗] port"))
    assert f"pid {os.getpid()}" in lines[index]
    # no stacked brackets around the holder (whose own command line may hold any: a pytest
    # worker's is `python -c "...exec(eval(sys.stdin.readline()))"`)
    holder = port_holder("127.0.0.1", held_port)
    assert holder is not None and holder in lines[index]
    around = lines[index].replace(holder, "HOLDER")
    assert ") (" not in around and "))" not in around, lines[index]
    assert lines[index + 1].startswith("    ") and "--port 0" in lines[index + 1]
    assert "1 failing check" in done.stdout


def test_legacy_consoles_get_ascii_marks(
    project: Path, env: dict[str, str], held_port: int
) -> None:
    env = {**env, "ROBO_BACKEND_PORT": str(held_port), "PYTHONIOENCODING": "ascii"}
    done = doctor(project, env=env)
    assert "[OK] " in done.stdout and "[X] port" in done.stdout and "[!] " in done.stdout
    assert "✓" not in done.stdout


def test_verbose_shows_details_quiet_hides_ok_lines(project: Path, env: dict[str, str]) -> None:
    verbose = doctor(project, "-v", env=env)
    assert "    endpoint: " + env["HF_ENDPOINT"] in verbose.stdout
    quiet = doctor(project, "-q", env=env)
    assert "[✓]" not in quiet.stdout and "[!]" in quiet.stdout


def test_unreachable_hub_is_a_warning_not_a_failure(project: Path, free_port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        closed = sock.getsockname()[1]
    done = doctor(
        project,
        "--json",
        env={"HF_ENDPOINT": f"http://127.0.0.1:{closed}", "ROBO_BACKEND_PORT": str(free_port)},
    )
    data = json.loads(done.stdout)
    hub = next(c for c in data["checks"] if c["id"] == "hub")
    assert hub["status"] == "warn" and "unreachable" in hub["summary"]
    assert done.returncode == 0


def test_missing_project_is_a_usage_error(tmp_path: Path) -> None:
    done = doctor(tmp_path / "nope", env={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2
    assert "error: project folder" in done.stderr and "hint:" in done.stderr


SECRETS = {
    "HF_TOKEN": "hf_PlantedHubToken0000111122223333",
    "OPENAI_API_KEY": "sk-planted-openai-key-4444555566667777",
    "MY_SECRET": "planted-my-secret-88889999",
}
DOTENV_SECRET = "sk_live_plantedDotenvKey12345"


def test_no_secret_ever_reaches_stdout_stderr_or_the_log(
    project: Path, env: dict[str, str]
) -> None:
    (project / ".env").write_text(
        f"# the backend's secrets\nSTRIPE_API_KEY={DOTENV_SECRET}\nDEBUG=1\n", encoding="utf-8"
    )
    planted = {
        **env,
        **SECRETS,
        # Secrets that end up inside values doctor prints: a setting shown with its source
        # (the .env one), and a health path carrying an environment secret.
        "ROBO_BACKEND_APP": f"main:{DOTENV_SECRET}",
        "ROBO_BACKEND_HEALTH_PATH": f"/health?key={SECRETS['MY_SECRET']}",
    }
    runs = [
        doctor(project, env=planted),
        doctor(project, "-v", env=planted),
        doctor(project, "--json", env=planted),
        doctor(project, "-v", "--json", env=planted),
    ]
    log = Path(os.environ["ROBO_BACKEND_LOG_DIR"]) / "robo-backend.log"
    assert log.is_file()
    texts = [r.stdout for r in runs] + [r.stderr for r in runs] + [log.read_text("utf-8")]
    for value in [*SECRETS.values(), DOTENV_SECRET]:
        for text in texts:
            assert value not in text
    # The values were there to leak, and were hidden, not dropped.
    assert "app='main:***'" in runs[0].stdout
    assert "/health?key=***" in runs[0].stdout
    data = json.loads(runs[2].stdout)
    hub = next(c for c in data["checks"] if c["id"] == "hub")
    assert hub["details"]["token_set"] is True
