"""The status file contract, `prefetch --json`, progress output, and fastembed loading the
result offline."""

from __future__ import annotations

import json
from pathlib import Path

from launcher.models.statusfile import read_status, write_status
from launcher.ui.progress import PlainProgress
from tests.fakehub.fixtures import BGE_FILE, BGE_MODEL
from tests.fakehub.server import FakeHub
from tests.helpers.cli import CliRunner
from tests.models.conftest import assert_status_schema, fastembed_embeds


def test_write_status_keeps_the_other_part(tmp_path: Path) -> None:
    path = tmp_path / "state" / "status.json"
    environment = {
        "os": "linux",
        "shell": "bash",
        "activation": "direct",
        "venv": "v",
        "python": "p",
    }
    write_status(path, environment=environment)

    write_status(path, model={"state": "ready"})

    document = read_status(path)
    assert document is not None
    assert document["environment"] == environment and document["model"] == {"state": "ready"}
    assert document["schema"] == 1 and document["updated_at"].endswith("+00:00")
    assert [p.name for p in path.parent.iterdir()] == ["status.json"]  # no temp files left


def test_read_status_of_garbage_is_none(tmp_path: Path) -> None:
    path = tmp_path / "status.json"
    path.write_text("{half a docu")
    assert read_status(path) is None
    assert read_status(tmp_path / "missing.json") is None


def test_prefetch_json_prints_exactly_one_document(
    fake_hub: FakeHub, tmp_path: Path, run_cli: CliRunner
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    fake_hub.fail_requests(1, status=503)

    done = run_cli(
        "prefetch",
        "-p",
        str(project),
        "--cache-dir",
        str(tmp_path / "cache"),
        "--retry-delay",
        "0.05",
        "--json",
        env={"HF_ENDPOINT": fake_hub.url},
    )

    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)  # the whole of stdout is one JSON document
    assert document["state"] == "ready" and document["attempt_count"] == 2
    assert "Downloading BGE model... (Attempt 1/3)" in done.stderr
    assert "Downloading BGE model... (Attempt 2/3)" in done.stderr
    assert "Model ready" not in done.stdout + done.stderr  # --json: the document, no report
    status = json.loads((project / ".robo-backend" / "status.json").read_text())
    assert_status_schema(status)
    assert status["model"] == document  # --json prints the status file's model object
    human = run_cli(
        "prefetch",
        "-p",
        str(project),
        "--cache-dir",
        str(tmp_path / "cache"),
        env={"HF_ENDPOINT": fake_hub.url},
    )
    assert human.returncode == 0, human.stderr
    assert "Model ready" in human.stdout  # the report on stdout: `prefetch | less` shows it
    assert "Model ready" not in human.stderr


def test_settings_come_from_pyproject_and_env(
    fake_hub: FakeHub, tmp_path: Path, run_cli: CliRunner
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text(
        '[tool.robo-backend]\nmodel = "sentence-transformers/all-MiniLM-L6-v2"\nretries = 2\n'
    )
    fake_hub.fail_requests(5, status=503)

    done = run_cli(
        "prefetch",
        "-p",
        str(project),
        "--json",
        env={
            "HF_ENDPOINT": fake_hub.url,
            "ROBO_BACKEND_CACHE_DIR": str(tmp_path / "env-cache"),
            "ROBO_BACKEND_RETRY_DELAY": "0.01",
        },
    )

    document = json.loads(done.stdout)
    assert document["cache_dir"] == str(tmp_path / "env-cache")
    assert document["requested"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert "(Attempt 2/2)" in done.stderr


def test_fastembed_loads_the_download_offline(
    fake_hub: FakeHub, make_options, cache_root: Path, tmp_path: Path
) -> None:
    from launcher.models.fetch import prefetch

    result = prefetch(make_options())
    assert result.state == "ready"

    vector = fastembed_embeds(cache_root, BGE_MODEL, tmp_path)

    assert len(vector) == 4 and any(abs(v) > 0 for v in vector)
    assert (Path(result.path) / BGE_FILE).exists()


def test_plain_progress_is_throttled() -> None:
    now = [0.0]
    lines: list[str] = []
    bar = PlainProgress("BGE model", 1000, clock=lambda: now[0], emit=lines.append)

    for _ in range(100):  # 1000 bytes in 10-byte steps, 0.01 s apart
        now[0] += 0.01
        bar.advance(10)

    assert [line.split(":")[1].split("%")[0].strip() for line in lines] == ["25", "50", "75", "100"]
    assert lines[-1].startswith("Downloading BGE model: 100% (1.0 kB of 1.0 kB")


def test_plain_progress_speaks_up_during_a_slow_stretch() -> None:
    now = [0.0]
    lines: list[str] = []
    bar = PlainProgress("BGE model", 1000, clock=lambda: now[0], emit=lines.append)

    now[0] = 6.0
    bar.advance(1)

    assert len(lines) == 1 and "0%" in lines[0]


def test_relative_cache_dir_in_pyproject_is_relative_to_the_project(
    fake_hub: FakeHub, tmp_path: Path, run_cli: CliRunner
) -> None:
    project = tmp_path / "project"
    project.mkdir()
    (project / "pyproject.toml").write_text('[tool.robo-backend]\ncache_dir = "models-cache"\n')

    done = run_cli("prefetch", "-p", str(project), "--json", env={"HF_ENDPOINT": fake_hub.url})

    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["cache_dir"] == str(project / "models-cache")
