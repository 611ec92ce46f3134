"""The benchmark harness's plumbing, on its trivial self-test benchmark (no timing asserted).

Runs the real `python -m bench --only selftest --quick` in a subprocess and checks what a
reader of the results relies on: the JSON's machine/command/date and per-figure statistics,
ratio, target and verdict; the Markdown table written between its markers with the
hand-written sections around them kept; a partial run merging into earlier results.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from bench.harness import Figure, Target
from bench.report import BEGIN, END

REPO_ROOT = Path(__file__).resolve().parents[2]


def run_bench(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bench", "--only", "selftest", "--quick", "--quiet",
         "--json", str(tmp_path / "latest.json"), "--docs", str(tmp_path / "benchmarks.md"),
         "--work-dir", str(tmp_path / "work"), *args],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120,
    )  # fmt: skip


def test_selftest_run_writes_json_and_markdown(tmp_path: Path) -> None:
    docs = tmp_path / "benchmarks.md"
    docs.write_text(
        f"# Benchmarks\n\n## How to read this\n\nHAND-WRITTEN INTRO\n\n{BEGIN}\nold table\n{END}\n"
        "\n## What we did about misses\n\nHAND-WRITTEN MISSES\n",
        encoding="utf-8",
    )
    done = run_bench(tmp_path)
    assert done.returncode == 0, done.stderr

    document = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert {"cpu", "cores_logical", "ram_gib", "os", "python"} <= set(document["machine"])
    assert document["command"].startswith("python -m bench --only selftest")
    assert document["date"]
    entry = document["benchmarks"]["selftest"]
    assert entry["status"] == "ok"
    (figure,) = entry["figures"]
    assert figure["ours"]["n"] == 3 and len(figure["ours"]["samples"]) == 3
    assert figure["ours"]["min"] <= figure["ours"]["median"] <= figure["ours"]["max"]
    assert figure["yardstick_medians"]["python -c pass"] > 0
    assert figure["ratio"] == pytest.approx(
        figure["ours"]["median"] / figure["yardsticks"]["python -c pass"]["median"]
    )
    assert figure["target"]["text"] and figure["pass"] is True

    text = docs.read_text(encoding="utf-8")
    assert "HAND-WRITTEN INTRO" in text and "HAND-WRITTEN MISSES" in text
    assert "old table" not in text
    generated = text.split(BEGIN, 1)[1].split(END, 1)[0]
    assert "| Harness self-test | python -c pass |" in generated
    assert "**Command:** `python -m bench --only selftest" in generated
    assert "Quick smoke run" in generated


def test_partial_run_keeps_earlier_groups(tmp_path: Path) -> None:
    earlier = {
        "schema": 1,
        "date": "2020-01-01 00:00 UTC",
        "command": "python -m bench",
        "benchmarks": {"cli": {"title": "1. CLI start-up", "status": "error", "order": 10,
                               "error": "kept from before", "figures": [],
                               "date": "2020-01-01 00:00 UTC"}},
    }  # fmt: skip
    (tmp_path / "latest.json").write_text(json.dumps(earlier), encoding="utf-8")
    done = run_bench(tmp_path, "--no-docs")
    assert done.returncode == 0, done.stderr
    document = json.loads((tmp_path / "latest.json").read_text(encoding="utf-8"))
    assert set(document["benchmarks"]) == {"cli", "selftest"}
    assert document["benchmarks"]["cli"]["error"] == "kept from before"
    assert not (tmp_path / "benchmarks.md").exists()


def test_unknown_benchmark_is_a_usage_error(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench", "--only", "no-such-thing", "--json",
         str(tmp_path / "x.json"), "--no-docs"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode != 0
    assert "unknown benchmark no-such-thing" in done.stderr
    assert not (tmp_path / "x.json").exists()


def test_targets_decide_pass_and_miss_from_medians() -> None:
    slower = Figure("t", "t", "s", ours=[3.0, 2.0, 9.0], yardsticks={"base": [1.0, 1.0, 1.0]},
                    target=Target("ratio", "<=", 1.5, "≤ 1.5× base"))  # fmt: skip
    assert slower.ratio == 3.0 and slower.passed is False  # median 3 ÷ 1
    faster = Figure("t", "t", "MB/s", ours=[90.0, 100.0, 80.0], yardsticks={"curl": [100.0]},
                    target=Target("ratio", ">=", 0.8, "≥ 0.8× curl"))  # fmt: skip
    assert faster.ratio == pytest.approx(0.9) and faster.passed is True
    absolute = Figure("t", "t", "%", ours=[0.0, 6.0, 7.0], target=Target("value", "<=", 5.0, ""))
    assert absolute.ratio is None and absolute.passed is False


def test_every_launcher_name_the_benchmarks_import_exists() -> None:
    """A benchmark imports the launcher's own functions inside its suites (only when it runs), so
    a name that moved would surface only as an error row of the next full run: check them all."""
    import ast
    import importlib

    missing = []
    for path in sorted((REPO_ROOT / "bench").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("launcher"):
                module = importlib.import_module(node.module or "")
                missing += [
                    f"{path.relative_to(REPO_ROOT)}: {node.module}.{alias.name}"
                    for alias in node.names
                    if not hasattr(module, alias.name)
                    and not (
                        hasattr(module, "__path__")  # a submodule of a package
                        and importlib.util.find_spec(f"{node.module}.{alias.name}") is not None
                    )
                ]
    assert missing == []
