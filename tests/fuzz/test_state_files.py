"""Fuzz of the state files: every file the launcher reads back, made into what a crash, a full
disk, another program or a prank leaves, against every command, as real subprocesses.

For each kind of damage (empty, binary, not UTF-8, nested past any depth, NaN, negative and huge
numbers with the pid of a foreign process, a folder, a FIFO, a symlink out of the tree) every
state file is damaged at once, then `status`, `doctor --json`, `clear-cache --all --dry-run`,
`prefetch --offline`, `up` (offline) and `clear-cache --broken --yes` run. None may print a
traceback or an internal error, hang, exit outside its documented codes, or signal the
sentinel (a foreign process whose pid is planted in every pid-valued file); `up` must still get
as far as starting the backend. Then the next plain `up` (online) repairs: model ready, backend
started, a status file that reads back. A venv whose pyvenv.cfg is a folder or a FIFO is
refused with a hint instead (without a pyvenv.cfg it may not be ours: it is never deleted).
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from launcher.fileops import read_state_json
from tests.fuzz.conftest import BACKEND_EXITED, Prepared, Result

HUGE_INT = 2**64
HUGE_FLOAT = 1e308
DEEP = b"[" * 100_000 + b"]" * 100_000
DAMAGES = (
    "empty",
    "binary",
    "not-utf8",
    "deep",
    "nan",
    "negative",
    "huge",
    "directory",
    "fifo",
    "symlink-out",
)
EXITS = {  # the documented exit codes of each command here
    "status": {0, 1},
    "doctor": {0, 1},
    "clear-cache": {0},
    "prefetch": {0, 1},
    "up": {1},  # the backend's own code: it cannot start (no uvicorn)
}


@dataclass(frozen=True)
class StateFile:
    """One file the launcher reads back: where it is, and what we would have written there."""

    name: str
    where: Callable[[Prepared], Path]
    original: Callable[[Prepared], Any]  # a JSON value, or the text of a text file
    spared: tuple[str, ...] = ()  # damages tested on their own (test_a_venv_without_...)

    @property
    def is_json(self) -> bool:
        return self.name.endswith(".json")


def _pristine(name: str) -> Callable[[Prepared], Any]:
    """The file as the cold `up` left it."""

    def read(ready: Prepared) -> Any:
        path = FILES_BY_NAME[name].where(ready)
        data = ready.pristine[path]
        return json.loads(data) if name.endswith(".json") else data.decode("utf-8")

    return read


def _run_record(ready: Prepared) -> dict[str, Any]:
    started = ready.sentinel.create_time()
    return {
        "schema": 1,
        "launcher_pid": ready.sentinel.pid,
        "launcher_started": started,
        "backend_pid": ready.sentinel.pid,
        "backend_started": started,
        "url": "http://127.0.0.1:9",
        "port": 9,
        "started_at": started,
        "command": ["python", "-m", "uvicorn", "main:app"],
        "launcher_cmdline": "0" * 64,
        "backend_cmdline": "0" * 64,
    }


def _pid_document(ready: Prepared) -> dict[str, Any]:
    return {"pid": ready.sentinel.pid, "purpose": "syncing", "tool": "uv", "since": 1.7e9}


def _early_record(ready: Prepared) -> dict[str, Any]:
    return {
        "schema": 1,
        "key": {"project": str(ready.project)},
        "signature": {str(ready.project / "pyproject.toml"): [1, 2, 3]},
        "argv": ["python", "-m", "uvicorn", "main:app"],
        "env": {},
        "cwd": str(ready.project),
        "host": "127.0.0.1",
        "port": 9,
    }


FILES = [
    StateFile("run.json", lambda r: r.state / "run.json", _run_record),
    StateFile("status.json", lambda r: r.state / "status.json", _pristine("status.json")),
    StateFile(
        "deps-stamp.json", lambda r: r.state / "deps-stamp.json", _pristine("deps-stamp.json")
    ),
    StateFile("env.lock.holder.json", lambda r: r.state / "env.lock.holder.json", _pid_document),
    StateFile("early-start.json", lambda r: r.state / "early-start.json", _early_record),
    StateFile(
        "fastembed-probe.json",
        lambda r: r.state / "fastembed-probe.json",
        _pristine("fastembed-probe.json"),
    ),
    StateFile("creating-venv", lambda r: r.state / "creating-venv", lambda r: str(r.venv)),
    StateFile("marker.json", lambda r: r.venv / ".robo-backend-installing", _pid_document),
    StateFile(
        "verified.json", lambda r: r.model / ".robo-verified.json", _pristine("verified.json")
    ),
    StateFile(
        "metadata.json", lambda r: r.model / "files_metadata.json", _pristine("metadata.json")
    ),
    StateFile("refs/main", lambda r: r.model / "refs" / "main", _pristine("refs/main")),
    StateFile(
        "held lock pid", lambda r: Path(str(r.held_lock) + ".pid"), lambda r: f"{r.sentinel.pid}\n"
    ),
    StateFile(
        "model lock pid",
        lambda r: r.cache / ".locks" / (r.model.name + ".lock.pid"),
        lambda r: f"{r.sentinel.pid}\n",
    ),
]
FILES_BY_NAME = {f.name: f for f in FILES}
PYVENV_CFG = StateFile(
    "pyvenv.cfg", lambda r: r.venv / "pyvenv.cfg", _pristine("pyvenv.cfg"), ("directory", "fifo")
)
FILES.append(PYVENV_CFG)
FILES_BY_NAME[PYVENV_CFG.name] = PYVENV_CFG
NEEDS_PRISTINE = [  # the files the cold `up` wrote, kept as they were
    "status.json",
    "deps-stamp.json",
    "fastembed-probe.json",
    "verified.json",
    "metadata.json",
    "refs/main",
    "pyvenv.cfg",
]


def _numbers(value: Any, damage: str) -> Any:
    """`value` with its numbers replaced as `damage` says: NaN for every float (the integers,
    the sentinel's pid among them, stay: a foreign pid next to a start time that is no time),
    -1 for every number, or huge ones."""
    if isinstance(value, dict):
        return {k: _numbers(v, damage) for k, v in value.items()}
    if isinstance(value, list):
        return [_numbers(v, damage) for v in value]
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if damage == "nan":
        return math.nan if isinstance(value, float) else value
    if damage == "negative":
        return -1
    return HUGE_INT if isinstance(value, int) else HUGE_FLOAT


def damaged_bytes(file: StateFile, ready: Prepared, damage: str) -> bytes:
    """What a damaged regular file holds."""
    original = file.original(ready)
    if damage == "empty":
        return b""
    if damage == "binary":
        return bytes(range(256)) * 4
    if damage == "deep":
        return DEEP
    if damage == "not-utf8":
        if file.is_json:
            return _bad_byte(json.dumps(original))
        return b"\xff\xfe" + original.encode("utf-8")
    if file.is_json:
        return json.dumps(_numbers(original, damage)).encode("utf-8")  # NaN is written as NaN
    return {"nan": b"NaN\n", "negative": b"-1\n", "huge": f"{HUGE_INT}\n".encode()}[damage]


def _bad_byte(text: str) -> bytes:
    """Valid JSON but for one byte: 0xff inside its first string."""
    data = text.encode("utf-8")
    at = data.find(b'"') + 1
    return data[:at] + b"\xff" + data[at:]


def plant(file: StateFile, ready: Prepared, damage: str) -> Path | None:
    """Damage `file` in place; the victim outside the tree for a symlink (else None)."""
    path = file.where(ready)
    remove(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if damage == "directory":
        path.mkdir()
    elif damage == "fifo":
        os.mkfifo(path)
    elif damage == "symlink-out":
        victim = ready.outside / (file.name.replace("/", "_") + ".victim")
        original = file.original(ready)
        victim.write_text(json.dumps(original) if file.is_json else original, encoding="utf-8")
        path.symlink_to(victim)
        return victim
    else:
        path.write_bytes(damaged_bytes(file, ready, damage))
    return None


def remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    elif os.path.lexists(path):
        path.unlink()


def check(ready: Prepared, done: Result, command: str) -> Result:
    """What every command must do with damaged state: end within the timeout (Prepared.run),
    in plain words, with a documented exit code, leaving the foreign process alone."""
    assert "Traceback" not in done.output, done.output
    assert "internal error" not in done.output, done.output
    assert done.code in EXITS[command], (done.code, done.output)
    assert ready.sentinel_alive(), f"`{' '.join(done.args)}` signalled a foreign process"
    if "--json" in done.args:
        json.loads(done.stdout)  # stdout is one JSON document, damage or not
    return done


@pytest.fixture(scope="module")
def ready(prepared: Prepared) -> Prepared:
    """The prepared project with the state the cold `up` wrote remembered (the originals)."""
    for name in NEEDS_PRISTINE:
        path = FILES_BY_NAME[name].where(prepared)
        prepared.pristine[path] = path.read_bytes()
    return prepared


def restore(ready: Prepared, files: list[StateFile]) -> None:
    """Put back what a damage left that the commands did not replace (a FIFO nobody rewrote,
    a file of ours planted where there was none)."""
    for file in files:
        path = file.where(ready)
        if path in ready.pristine:
            if not (path.is_file() and not path.is_symlink()):
                remove(path)
                path.write_bytes(ready.pristine[path])
        else:
            remove(path)


@pytest.mark.parametrize("damage", DAMAGES)
def test_every_command_survives_damaged_state_and_the_next_up_repairs(
    ready: Prepared, damage: str
) -> None:
    damaged = [f for f in FILES if damage not in f.spared]
    victims = [v for f in damaged if (v := plant(f, ready, damage)) is not None]
    before = {v: v.read_bytes() for v in victims}
    project = ("-p", str(ready.project))
    try:
        check(ready, ready.run("status", *project), "status")
        check(ready, ready.run("doctor", *project, "--json"), "doctor")
        dry = ready.run("clear-cache", *project, "--all", "--dry-run", "--json")
        check(ready, dry, "clear-cache")
        check(ready, ready.run("prefetch", *project, "--offline"), "prefetch")
        up = check(ready, ready.up(offline=True), "up")
        assert BACKEND_EXITED in up.stderr, up.output  # got through every step to the server
        check(
            ready, ready.run("clear-cache", *project, "--broken", "--yes", "--json"), "clear-cache"
        )

        again = check(ready, ready.up(), "up")  # the next plain `up` repairs
        assert BACKEND_EXITED in again.stderr, again.output
        assert "model ready" in again.stderr, again.output
        for victim, data in before.items():
            assert victim.read_bytes() == data, f"{victim} was written through a symlink"
        assert read_state_json(ready.state / "status.json") is not None
    finally:
        restore(ready, FILES)


@pytest.mark.parametrize("damage", PYVENV_CFG.spared)
def test_a_venv_without_a_readable_pyvenv_cfg_is_refused_in_plain_words(
    ready: Prepared, damage: str
) -> None:
    plant(PYVENV_CFG, ready, damage)
    try:
        check(ready, ready.run("doctor", "-p", str(ready.project), "--json"), "doctor")
        up = check(ready, ready.up(offline=True), "up")
        assert "is not a virtual environment" in up.stderr, up.output
        assert "hint:" in up.stderr, up.output
        assert (ready.venv / "bin").is_dir()  # refused, never deleted
    finally:
        restore(ready, [PYVENV_CFG])


@pytest.mark.parametrize("name", ["status.json", "deps-stamp.json", "env.lock"])
def test_a_folder_with_files_where_a_state_file_belongs_is_named_not_deleted(
    ready: Prepared, name: str
) -> None:
    """An empty folder in a state file's place is replaced (the fuzz above); one with something
    in it may be someone's: `up` stops, names it and says what to do, and leaves it alone."""
    path = ready.state / name
    remove(path)
    path.mkdir()
    (path / "keep.txt").write_text("mine", encoding="utf-8")
    try:
        up = check(ready, ready.up(offline=True), "up")
        assert f"{path} is a folder, where robo-backend keeps a file of its own" in up.stderr
        assert "hint: Move that folder away" in up.stderr, up.output
        assert (path / "keep.txt").read_text(encoding="utf-8") == "mine"
    finally:
        remove(path)
        if path in ready.pristine:
            path.write_bytes(ready.pristine[path])
