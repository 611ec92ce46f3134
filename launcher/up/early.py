"""Early start: a warm `up` starts the backend before it has re-checked everything.

When nothing the checks depend on changed since the last healthy start of the same command, the
same backend starts at once and is kept only if the pipeline then builds the identical command
and environment and no watched file changed; otherwise its tree is stopped first. The record
(`early-start.json`) holds only the environment *changes*, never secrets. A cold `up` gets an
early interpreter probe instead. `ROBO_BACKEND_FAST_START=0` turns both off.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from launcher import __version__
from launcher.faststart import SWITCH, fast_start
from launcher.server.runfile import run_file
from launcher.settings import ENV_PREFIX, Settings, env_name, resolve_settings

RECORD_FILE = "early-start.json"
RECORD_SCHEMA = 1

Signature = dict[str, list[int] | None]
# launcher variables that change nothing the backend is started with
_NOT_SETTINGS = frozenset({SWITCH, env_name("log_dir"), env_name("debug")})


def signature(paths: Sequence[str]) -> Signature:
    """[mtime_ns, size, inode] of each path (None: missing). A folder's mtime changes when an
    entry is added or removed, so the model's snapshot folder covers its file list."""
    signed: Signature = {}
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            signed[path] = None
            continue
        signed[path] = [info.st_mtime_ns, info.st_size, info.st_ino]
    return signed


def depended_on(
    project: Path, state_dir: Path, venv: Path, python: Path, model_path: str
) -> list[str]:
    """The files a warm start's checks read: the dependency decision's (deps/sources.py), .env,
    the venv's config and interpreter, the stamps, the model's folder and files."""
    from launcher.deps.sources import decision_files
    from launcher.deps.stamp import stamp_path
    from launcher.fastembed.probe import ANSWER_FILE

    paths = [*decision_files(project), project / ".env", venv / "pyvenv.cfg", python]
    paths += [stamp_path(state_dir), state_dir / ANSWER_FILE, Path(model_path)]
    with contextlib.suppress(OSError):
        paths += sorted(Path(model_path).iterdir())
    return [str(path) for path in paths]


_QUIET_FLAGS = frozenset({"-v", "--verbose", "-q", "--quiet"})  # output only


def request_key(project: Path, args: Sequence[str], env: Mapping[str, str]) -> str:
    """What must be equal for the last start to predict this one: the launcher's version, the
    project, the working folder, the command line (less -v/-q), the launcher's env settings."""
    own = sorted(
        (k, v)
        for k, v in env.items()
        if k.startswith((ENV_PREFIX, "HF_")) and k not in _NOT_SETTINGS
    )
    words = [arg for arg in args if arg not in _QUIET_FLAGS]
    material = json.dumps([__version__, str(project.resolve()), os.getcwd(), words, own])
    return hashlib.sha256(material.encode()).hexdigest()


def up_project(args: Sequence[str]) -> Path | None:
    """The project folder of an `up` command line (`-p`/`--project`, else the current folder);
    None when `args` is not `up`."""
    rest = list(args)
    while rest and rest[0] in _QUIET_FLAGS:
        rest.pop(0)
    if not rest or rest[0] != "up":
        return None
    for i, arg in enumerate(rest):
        if arg in ("-p", "--project") and i + 1 < len(rest):
            return Path(rest[i + 1]).expanduser()
        if arg.startswith("--project="):
            return Path(arg.split("=", 1)[1]).expanduser()
    return Path.cwd()


def env_changes(base: Mapping[str, str], final: Mapping[str, str]) -> dict[str, Any]:
    """How `final` differs from `base`: set values, PATH-like prefixes, removed names."""
    changes: dict[str, Any] = {"set": {}, "prepend": {}, "unset": []}
    for name, value in final.items():
        old = base.get(name)
        if old == value:
            continue
        if old and value.endswith(old) and len(value) > len(old):
            changes["prepend"][name] = value[: len(value) - len(old)]
        else:
            changes["set"][name] = value
    changes["unset"] = sorted(name for name in base if name not in final)
    return changes


def apply_changes(base: Mapping[str, str], changes: Mapping[str, Any]) -> dict[str, str]:
    env = dict(base)
    for name in changes.get("unset", []):
        env.pop(name, None)
    for name, prefix in changes.get("prepend", {}).items():
        env[name] = prefix + env.get(name, "")
    env.update(changes.get("set", {}))
    return env


@dataclass
class Launch:
    """What was started (or is to be): command line, environment, folder, address."""

    argv: list[str]
    env: dict[str, str]
    cwd: str
    host: str
    port: int


def remember(
    state_dir: Path,
    key: str,
    launch: Launch,
    base_env: Mapping[str, str],
    paths: Sequence[str],
) -> None:
    """Keep what a healthy start ran for the next `up` with the same key; not when the env
    changes would carry a secret (they go to disk) or the port was random."""
    from launcher.fileops import atomic_write_text
    from launcher.redact import is_secret_name, redact

    changes = env_changes(base_env, launch.env)
    names = [*changes["set"], *changes["prepend"]]
    values = [*changes["set"].values(), *changes["prepend"].values(), *launch.argv]
    secret = any(is_secret_name(n) for n in names) or any(redact(v) != v for v in values)
    if launch.port == 0 or secret:
        forget(state_dir)
        return
    document = {"schema": RECORD_SCHEMA, "key": key, **asdict(launch), "env": changes}
    document["signature"] = signature(paths)
    with contextlib.suppress(OSError):
        atomic_write_text(state_dir / RECORD_FILE, json.dumps(document, indent=1) + "\n")


def forget(state_dir: Path) -> None:
    with contextlib.suppress(OSError):
        (state_dir / RECORD_FILE).unlink(missing_ok=True)


def planned(
    state_dir: Path, key: str, base_env: Mapping[str, str]
) -> tuple[Launch, Signature] | None:
    """The launch the last healthy start made and its files' signature, when this one is
    predicted to be identical: same key, every signed file unchanged, no other `up` of the
    project running, port free."""
    from launcher.fileops import read_state_json
    from launcher.server.port import port_is_free

    data = read_state_json(state_dir / RECORD_FILE)  # untrusted: anything but ours is None
    if not isinstance(data, dict) or data.get("schema") != RECORD_SCHEMA or data.get("key") != key:
        return None
    signed = data.get("signature") or {}
    if not signed or signature(list(signed)) != signed:
        return None
    if run_file(state_dir).exists():
        return None  # another `up` runs (or ran) here: the pipeline decides what to do
    launch = Launch(
        argv=[str(a) for a in data["argv"]],
        env=apply_changes(base_env, data.get("env") or {}),
        cwd=str(data["cwd"]),
        host=str(data["host"]),
        port=int(data["port"]),
    )
    return (launch, signed) if port_is_free(launch.host, launch.port) else None


@dataclass
class EarlyStart:
    """A backend started before the checks; adopted by serve() or abandoned."""

    launch: Launch
    popen: subprocess.Popen[bytes]
    guard: Any
    paths: list[str]
    signed: Signature

    def adopt(self, launch: Launch) -> tuple[subprocess.Popen[bytes] | None, Any]:
        """(the early backend, its guard) when the steps decided exactly what it runs; else it
        is stopped and (None, None): serve() starts the right one."""
        from loguru import logger

        unchanged = signature(self.paths) == self.signed  # nothing it depends on changed
        if launch == self.launch and unchanged and self.popen.poll() is None:
            logger.debug(f"early start confirmed: supervising pid {self.popen.pid}")
            return self.popen, self.guard
        logger.debug("early start not confirmed (something changed): starting the backend anew")
        self.abandon()
        return None, None

    def abandon(self) -> None:
        """Stop the early backend and everything it started; the pipeline starts its own."""
        from launcher.server.tree import kill_tree

        kill_tree(self.popen.pid)
        with contextlib.suppress(Exception):
            self.popen.wait(timeout=5)
        if self.popen.stdout is not None:
            with contextlib.suppress(OSError):
                self.popen.stdout.close()
        self.guard.close()


def start_early(state_dir: Path, key: str, base_env: Mapping[str, str]) -> EarlyStart | None:
    """Start the predicted backend now, supervised as serve() would supervise it, or None.
    Logging is not wired yet: nothing here logs (the pipeline says what happened)."""
    import functools
    import sys

    from launcher import proc
    from launcher.server.claim import try_claim
    from launcher.server.guard import Watchdog, guard_for

    plan = planned(state_dir, key, base_env)
    if plan is None or not try_claim(state_dir):  # another `up` holds the project: not us
        return None
    launch, signed = plan
    windows = sys.platform == "win32"
    watchdog = None if windows else Watchdog(spawn=functools.partial(proc.spawn, quiet=True))
    guard = guard_for(sys.platform, watchdog=watchdog)
    try:
        popen = proc.spawn(
            launch.argv,
            env=launch.env,
            cwd=Path(launch.cwd),
            windows=windows,
            preexec=guard.preexec(),
            quiet=True,
        )
    except OSError:
        guard.close()
        return None
    guard.started(popen.pid)
    return EarlyStart(launch, popen, guard, list(signed), signed)


# What the entry point saw and started, for the `up` pipeline to take (once).
_pending: dict[str, Any] = {}


def start_for_command_line(args: Sequence[str], env: Mapping[str, str]) -> None:
    """Called by the entry point before the CLI is imported: for `up`, keep the key and start
    the predicted backend (stopped at exit unless the pipeline takes it)."""
    import atexit

    project = up_project(args)
    if project is None or not fast_start(env):
        return
    try:  # the state folder as the pipeline resolves it (no flag sets it)
        settings = resolve_settings(project, env=env)
    except Exception:  # a project the pipeline will refuse, saying why: nothing to start
        return
    key = request_key(project, args, env)
    _pending["key"] = key
    try:
        early = start_early(settings.state_path, key, env)
    except Exception:  # a broken record, an odd file system: the normal start follows
        early = None
    if early is not None:
        _pending["early"] = early
        atexit.register(_abandon_leftover)
    else:
        _probe_python_soon(settings, args, env)


def _probe_python_soon(settings: Settings, args: Sequence[str], env: Mapping[str, str]) -> None:
    """On a cold `up` (no venv yet, no interpreter asked for) the venv step will probe the
    first python3/python on PATH: start that now, in a thread."""
    chosen = any(arg == "--python" or arg.startswith("--python=") for arg in args)
    if settings.python or chosen or (settings.venv_path / "pyvenv.cfg").exists():
        return
    from launcher.platform import PlatformFacts
    from launcher.venvs.interpreters import probe_soon
    from launcher.venvs.pyvenv import sibling_path

    facts = PlatformFacts.local(env)
    if (sibling_path(settings.venv_path, facts) / "pyvenv.cfg").exists():
        return  # this platform's own venv next to another OS's
    with contextlib.suppress(Exception):  # only a head start: find_python asks again if need be
        probe_soon(facts)


def take() -> tuple[str | None, EarlyStart | None]:
    """(the record key of this command line, the early backend) — (None, None) when `up` was
    not started through the entry point (then nothing is started early or remembered)."""
    return _pending.pop("key", None), _pending.pop("early", None)


def _abandon_leftover() -> None:
    early = _pending.pop("early", None)
    if early is not None:
        early.abandon()
