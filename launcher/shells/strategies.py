"""Launch strategies: how the server is started inside the venv, each probed before use.

In order: `direct`, `powershell`, `cmd`, `wsl`, `posix` (docs/shells.md). A strategy is used only
after a probe it starts reports the venv's `sys.prefix`; every attempt, failure and skip is
recorded in the status file's `environment`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from launcher import proc
from launcher.errors import UsageError, VenvError
from launcher.platform import PlatformFacts, is_windows_path, windows_to_wsl
from launcher.shells.detect import ShellInfo
from launcher.shells.text import quote_posix, quote_powershell
from launcher.venvs import VenvInfo, activated_env, same_path, scrubbed_env, venv_layout
from launcher.venvs.inspection import marker

STRATEGIES = ("direct", "powershell", "cmd", "wsl", "posix")
PROBE_TIMEOUT = 60.0
"""Seconds a probe may take (the first `wsl` call boots the distribution)."""
PROBE_CODE = "import sys; print('ROBO_PREFIX=' + sys.prefix); print('ROBO_EXE=' + sys.executable)"

# Variables of the launcher-to-backend contract that must cross into WSL (WSLENV); `/p`
# translates a Windows path into a WSL one on the way.
WSL_FORWARD = (
    "FASTEMBED_CACHE_PATH",
    "HF_HUB_OFFLINE",
    "HF_ENDPOINT",
    "HF_TOKEN",
    "HF_HUB_DISABLE_PROGRESS_BARS",
    "HF_HUB_DISABLE_SYMLINKS",
    "ROBO_BACKEND_MODEL",
    "ROBO_BACKEND_STATUS_FILE",
    "PYTHONUNBUFFERED",
)


@dataclass
class ActivationResult:
    """The chosen strategy and every attempt (status file `environment`, doctor, -v)."""

    strategy: str
    shell: str
    venv: str
    python: str
    os: str
    attempts: list[dict[str, Any]] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict, repr=False)
    program: str | None = None
    script: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The status file's `environment` object (schema 1) plus the attempts."""
        return {
            "os": self.os,
            "shell": self.shell,
            "activation": self.strategy,
            "venv": self.venv,
            "python": self.python,
            "attempts": [dict(a) for a in self.attempts],
        }


@dataclass
class _Plan:
    """A strategy ready to probe: the program it runs, the script it sources, the env."""

    strategy: str
    env: dict[str, str]
    expected_prefix: str
    program: str | None = None
    script: str | None = None


# ---------------------------------------------------------------------------------------------
# wrap_argv: the same server argv, run through a strategy


def wrap_argv(result: ActivationResult, argv: Sequence[str]) -> list[str]:
    """`[<venv python>, args…]` as `result.strategy` runs it (the script strategies run `python`
    after the activation script put the venv first on PATH)."""
    args = [str(a) for a in argv]
    if result.strategy == "direct":
        return args
    rest = args[1:]
    program, script = result.program or "", result.script or ""
    if result.strategy == "powershell":
        call = " ".join(["& python", *(quote_powershell(a) for a in rest)])
        command = f"& {quote_powershell(script)}; {call}; exit $LASTEXITCODE"
        return [program, "-NoProfile", "-ExecutionPolicy", "Bypass", "-Command", command]
    if result.strategy == "cmd":
        for arg in [script, *rest]:
            problem = cmd_unsafe(arg)
            if problem:
                raise VenvError(
                    f"cmd cannot pass {arg!r} safely ({problem})",
                    "Use another activation strategy: --activation direct (the default).",
                )
        return [program, "/d", "/c", "call", script, "&&", "python", *rest]
    if result.strategy == "wsl":
        words = " ".join(quote_posix(_wsl_arg(a)) for a in rest)
        command = f"source {quote_posix(script)} && exec python {words}".rstrip()
        return [program, "-e", "bash", "-lc", command]
    if result.strategy == "posix":
        return [program, "-c", '. "$1" && shift && exec "$@"', "sh", script, "python", *rest]
    raise ValueError(f"unknown activation strategy {result.strategy!r}")


def _wsl_arg(arg: str) -> str:
    """Windows paths in the server's argv (`--app-dir C:\\proj`) as WSL sees them."""
    return windows_to_wsl(arg) if is_windows_path(arg) else arg


_CMD_SPECIAL = set("&|<>^()")


def cmd_unsafe(arg: str) -> str | None:
    """Why `arg` cannot travel through `cmd /c` (None when it can): `&|<>^()` are operators
    unless quoted (Python quotes only on a space or tab); `%` expands even in quotes; `"` cannot
    be escaped."""
    if '"' in arg:
        return "it contains a double quote"
    if "%" in arg:
        return "it contains %, which cmd expands even inside quotes"
    if arg == "" or (not re.search(r"[ \t]", arg) and _CMD_SPECIAL & set(arg)):
        return "it contains cmd operators (& | < > ^ ( )) and no space, so it is not quoted"
    return None


def run_env(result: ActivationResult, env: Mapping[str, str]) -> dict[str, str]:
    """The environment for `wrap_argv(result, …)`: for `wsl`, the contract variables are
    listed in WSLENV (paths with `/p`) so they reach the Linux side; unchanged otherwise."""
    out = dict(env)
    if result.strategy != "wsl":
        return out
    existing = [e for e in out.get("WSLENV", "").split(":") if e]
    names = {e.split("/")[0] for e in existing}
    for name in WSL_FORWARD:
        if name in out and name not in names:
            value = out[name]
            flag = "/p" if is_windows_path(value) else ""
            existing.append(name + flag)
    if existing:
        out["WSLENV"] = ":".join(existing)
    return out


# ---------------------------------------------------------------------------------------------
# Plans: can a strategy apply here, and with what


def _plan_direct(venv: VenvInfo, shell: ShellInfo, facts: PlatformFacts) -> _Plan | str:
    if venv_layout(venv.path) == "posix" and facts.windows:
        return "the venv is a Linux venv (bin/), which Windows cannot run directly"
    if venv_layout(venv.path) == "windows" and not facts.windows:
        return "the venv is a Windows venv (Scripts\\), which cannot run here"
    if not venv.python.exists():
        return f"{venv.python} does not exist"
    return _Plan("direct", activated_env(venv, facts.env), str(venv.path))


def _find_script(folder: Path, names: Sequence[str]) -> Path | None:
    return next((folder / name for name in names if (folder / name).is_file()), None)


def _plan_powershell(venv: VenvInfo, shell: ShellInfo, facts: PlatformFacts) -> _Plan | str:
    if venv_layout(venv.path) == "posix" and facts.windows:
        return "the venv is a Linux venv (bin/)"
    order = ["pwsh", "powershell"] if shell.name == "pwsh" else ["powershell", "pwsh"]
    program = next((p for p in (facts.which(n) for n in order) if p), None)
    if program is None:
        return "neither powershell nor pwsh is on PATH"
    script = _find_script(venv.scripts_dir, ("Activate.ps1", "activate.ps1"))
    if script is None:
        return f"no Activate.ps1 in {venv.scripts_dir}"
    return _Plan("powershell", scrubbed_env(facts.env), str(venv.path), program, str(script))


def _plan_cmd(venv: VenvInfo, shell: ShellInfo, facts: PlatformFacts) -> _Plan | str:
    if not facts.windows:
        return "cmd exists only on Windows"
    if venv_layout(venv.path) == "posix":
        return "the venv is a Linux venv (bin/)"
    program = facts.which("cmd") or facts.getenv("COMSPEC") or None
    if not program:
        return "cmd is not on PATH and COMSPEC is not set"
    script = _find_script(venv.scripts_dir, ("activate.bat",))
    if script is None:
        return f"no activate.bat in {venv.scripts_dir}"
    problem = cmd_unsafe(str(script))
    if problem:
        return f"the path {script} cannot travel through cmd /c: {problem}"
    return _Plan("cmd", scrubbed_env(facts.env), str(venv.path), program, str(script))


def _linux_venv(venv: VenvInfo) -> Path | None:
    for candidate in (venv.path, venv.foreign):
        if (
            candidate is not None
            and venv_layout(candidate) == "posix"
            and (candidate / "bin" / "activate").is_file()
        ):
            return candidate
    return None


def _plan_wsl(venv: VenvInfo, shell: ShellInfo, facts: PlatformFacts) -> _Plan | str:
    if not facts.windows:
        return "wsl is used only from Windows"
    linux = _linux_venv(venv)
    if linux is None:
        return "no Linux venv (bin/activate) to run inside WSL"
    program = facts.which("wsl")
    if program is None:
        return "wsl is not on PATH (WSL is not installed)"
    script = windows_to_wsl(str(linux / "bin" / "activate"))
    return _Plan("wsl", scrubbed_env(facts.env), windows_to_wsl(str(linux)), program, script)


def _plan_posix(venv: VenvInfo, shell: ShellInfo, facts: PlatformFacts) -> _Plan | str:
    program = facts.which("sh")
    if program is None:
        return "sh is not on PATH"
    script = _find_script(venv.scripts_dir, ("activate",))
    if script is None:
        return f"no activate script in {venv.scripts_dir}"
    if facts.windows and venv_layout(venv.path) == "posix":
        return "the venv is a Linux venv (bin/)"
    text = str(script).replace("\\", "/") if facts.windows else str(script)
    return _Plan("posix", scrubbed_env(facts.env), str(venv.path), program, text)


_PLANNERS: dict[str, Callable[[VenvInfo, ShellInfo, PlatformFacts], _Plan | str]] = {
    "direct": _plan_direct,
    "powershell": _plan_powershell,
    "cmd": _plan_cmd,
    "wsl": _plan_wsl,
    "posix": _plan_posix,
}


# ---------------------------------------------------------------------------------------------
# The probe and the choice


def probe(
    result: ActivationResult, expected_prefix: str, facts: PlatformFacts, cwd: Path, timeout: float
) -> tuple[str | None, str | None]:
    """Run the probe through `result`'s strategy: (error or None, the python it reported)."""
    try:
        argv = wrap_argv(result, [result.python, "-c", PROBE_CODE])
    except VenvError as exc:
        return exc.message, None
    done = proc.run(argv, env=run_env(result, result.env), cwd=cwd, timeout=timeout)
    prefix = marker(done.stdout, "ROBO_PREFIX=")
    exe = marker(done.stdout, "ROBO_EXE=")
    if not done.ok:
        tail = done.tail(4).replace("\n", " | ") or "no output"
        return f"exit {done.returncode}: {tail}", exe
    if prefix is None:
        return "the interpreter did not report sys.prefix", exe
    if not same_path(prefix, expected_prefix, facts):
        return f"python ran outside the venv (sys.prefix {prefix}, expected {expected_prefix})", exe
    return None, exe


def choose_activation(
    venv_info: VenvInfo,
    shell_info: ShellInfo,
    facts: PlatformFacts,
    forced: str | None = None,
    *,
    timeout: float = PROBE_TIMEOUT,
) -> ActivationResult:
    """The first strategy (or only `forced`) whose probe passes; VenvError listing every attempt
    when none does."""
    if forced in (None, "", "auto"):
        order: Sequence[str] = STRATEGIES
    elif forced in STRATEGIES:
        order = (forced,)
    else:
        raise UsageError(
            f"unknown activation strategy {forced!r}",
            "Use one of: auto, " + ", ".join(STRATEGIES) + ".",
        )
    attempts: list[dict[str, Any]] = []
    cwd = venv_info.path.parent if venv_info.path.parent.is_dir() else Path.cwd()
    for strategy in order:
        plan = _PLANNERS[strategy](venv_info, shell_info, facts)
        if isinstance(plan, str):
            logger.debug(f"activation {strategy}: skipped ({plan})")
            attempts.append(
                {"strategy": strategy, "ok": False, "error": f"skipped: {plan}", "skipped": True}
            )
            continue
        candidate = ActivationResult(
            strategy=strategy,
            shell=shell_info.name,
            venv=plan.expected_prefix if strategy == "wsl" else str(venv_info.path),
            python=str(venv_info.python),
            os=facts.os_name,
            env=plan.env,
            program=plan.program,
            script=plan.script,
        )
        error, exe = probe(candidate, plan.expected_prefix, facts, cwd, timeout)
        attempts.append({"strategy": strategy, "ok": error is None, "error": error})
        if error is None:
            candidate.attempts = attempts
            if exe:
                candidate.python = exe
            logger.debug(f"activation {strategy}: probe ok ({candidate.python})")
            return candidate
        logger.warning(f"activation strategy {strategy} failed: {error}")
    tried = "; ".join(f"{a['strategy']}: {a['error']}" for a in attempts)
    hint = (
        "Try --activation auto, or see docs/shells.md (troubleshooting)."
        if len(order) == 1
        else "Delete the venv so `up` recreates it, run `robo-backend doctor`, and see "
        "docs/shells.md (troubleshooting)."
    )
    raise VenvError(f"the venv at {venv_info.path} could not be activated ({tried})", hint)
