"""Activation strategies, each verified by a real probe, and their fallback order.

On Linux, `direct` and `posix` run for real. The Windows strategies run through recording fake
`powershell`/`cmd`/`wsl` programs (tests/helpers/windows_fakes.py) on a fake Windows PATH: they log
their argv and run the real probe in a real interpreter, so the order, the argv quoting and the
recorded attempts are asserted on what actually ran.

The Windows-layout venv used here is real enough for Python: `Scripts/python` is a symlink to
the real interpreter next to a real `pyvenv.cfg`, so it reports `sys.prefix` = the venv.
`Scripts/python.exe` is a file that cannot be executed, which makes `direct` fail for real
(as if the interpreter could not be started directly) while the activation scripts, which run
`python` from PATH, can still succeed.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from launcher.errors import UsageError, VenvError
from launcher.platform import PlatformFacts
from launcher.shells.detect import ShellInfo
from launcher.shells.strategies import (
    PROBE_CODE,
    ActivationResult,
    choose_activation,
    cmd_unsafe,
    run_env,
    wrap_argv,
)
from launcher.shells.text import quote_posix
from launcher.venvs import VenvInfo
from tests.helpers import windows_fakes as fakes
from tests.helpers.venvs import base_python, host_facts, tools_dir

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="fakes are POSIX programs")
fake_windows = pytest.mark.skipif(
    not sys.platform.startswith("linux"),
    reason="the Windows-layout venv relies on Linux Pythons honouring a symlinked interpreter",
)

POWERSHELL = ShellInfo("powershell", False, "test")
BASH = ShellInfo("bash", False, "test")
SHOW = "import os, sys; print(sys.prefix); print(os.environ.get('ROBO_BACKEND_MODEL', '-'))"


def windows_layout_venv(path: Path) -> VenvInfo:
    scripts = path / "Scripts"
    scripts.mkdir(parents=True)
    real = base_python()
    (path / "pyvenv.cfg").write_text(
        f"home = {os.path.dirname(real)}\ninclude-system-site-packages = false\n",
        encoding="utf-8",
    )
    os.symlink(real, scripts / "python")
    blocked = scripts / "python.exe"
    blocked.write_bytes(b"MZ\x90\x00")
    blocked.chmod(0o644)
    (scripts / "Activate.ps1").write_text("# Activate.ps1\n", encoding="utf-8")
    (scripts / "activate.bat").write_text("@echo off\r\n", encoding="utf-8")
    return VenvInfo(path, blocked, False, "test", "3")


class WindowsBox:
    """A fake Windows: PATH = the fake programs; a system `python` outside any venv."""

    def __init__(self, root: Path, programs: tuple[str, ...], **env: str) -> None:
        self.log = root / "calls.jsonl"
        fakebin = fakes.install(root / "fakebin", *programs)
        sysbin = root / "sysbin"
        sysbin.mkdir()
        os.symlink(base_python(), sysbin / "python")
        self.facts = PlatformFacts(
            "win32",
            {
                "PATH": f"{fakebin};{sysbin}",
                "FAKE_LOG": str(self.log),
                "HOME": os.environ["HOME"],
                **env,
            },
            ("powershell.exe",),
            "",
        )

    def calls(self) -> list[dict[str, object]]:
        return fakes.read_log(self.log)


def _outcomes(result_or_attempts: ActivationResult | list[dict[str, object]]) -> list[tuple]:
    attempts = (
        result_or_attempts.attempts
        if isinstance(result_or_attempts, ActivationResult)
        else result_or_attempts
    )
    return [(a["strategy"], a["ok"]) for a in attempts]


def _ps(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _run_wrapped(result: ActivationResult, env: dict[str, str] | None = None) -> list[str]:
    """Run a server-like command through the chosen strategy, for real."""
    argv = wrap_argv(result, [result.python, "-c", SHOW])
    done = subprocess.run(
        argv, env=run_env(result, env or result.env), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-2:]


# ---------------------------------------------------------------------------------------------
# Linux: real strategies


def test_direct_wins_on_a_healthy_venv(uv_venv: VenvInfo) -> None:
    result = choose_activation(uv_venv, BASH, host_facts())
    assert result.strategy == "direct"
    assert result.attempts == [{"strategy": "direct", "ok": True, "error": None}]
    assert result.to_json() == {
        "os": "linux" if sys.platform.startswith("linux") else result.os,
        "shell": "bash",
        "activation": "direct",
        "venv": str(uv_venv.path),
        "python": str(uv_venv.python),
        "attempts": result.attempts,
    }
    argv = [str(uv_venv.python), "-m", "uvicorn", "main:app"]
    assert wrap_argv(result, argv) == argv
    assert result.env["VIRTUAL_ENV"] == str(uv_venv.path)
    assert _run_wrapped(result)[0] == str(uv_venv.path)


@pytest.mark.parametrize("which", ["plain", "weird"])
def test_forced_posix_sources_the_real_activate_script(
    which: str, uv_venv: VenvInfo, weird_venv: VenvInfo
) -> None:
    venv = uv_venv if which == "plain" else weird_venv
    result = choose_activation(venv, BASH, host_facts(), "posix")
    assert _outcomes(result) == [("posix", True)]
    assert wrap_argv(result, [str(venv.python), "-m", "uvicorn", "app"]) == [
        result.program,
        "-c",
        '. "$1" && shift && exec "$@"',
        "sh",
        str(venv.path / "bin" / "activate"),
        "python",
        "-m",
        "uvicorn",
        "app",
    ]
    assert _run_wrapped(result)[0] == str(venv.path)


def test_windows_strategies_are_skipped_on_linux_with_reasons(tmp_path: Path) -> None:
    venv = VenvInfo(tmp_path / ".venv", tmp_path / ".venv" / "bin" / "python", False, "t", "3")
    with pytest.raises(VenvError) as caught:
        choose_activation(venv, BASH, host_facts())
    message = caught.value.message
    assert "direct: skipped:" in message and "does not exist" in message
    assert "cmd: skipped: cmd exists only on Windows" in message
    assert "wsl: skipped: wsl is used only from Windows" in message


# ---------------------------------------------------------------------------------------------
# Windows strategies through the recording fakes


@fake_windows
def test_powershell_when_direct_fails_bypasses_the_execution_policy(tmp_path: Path) -> None:
    box = WindowsBox(tmp_path, ("powershell", "cmd"))
    venv = windows_layout_venv(tmp_path / "ann's proj" / ".venv")
    result = choose_activation(venv, POWERSHELL, box.facts)

    assert _outcomes(result) == [("direct", False), ("powershell", True)]
    assert result.attempts[0]["error"].startswith("exit 126")  # python.exe could not start
    assert result.strategy == "powershell" and result.os == "windows"
    assert result.python == str(venv.path / "Scripts" / "python")  # what the probe reported
    ps1 = venv.path / "Scripts" / "Activate.ps1"
    [call] = box.calls()
    assert call["program"] == "powershell"
    assert call["argv"] == [
        "-NoProfile",
        "-ExecutionPolicy",
        "Bypass",
        "-Command",
        f"& {_ps(str(ps1))}; & python '-c' {_ps(PROBE_CODE)}; exit $LASTEXITCODE",
    ]
    assert "ann''s proj" in call["argv"][-1]  # the quote in the path is doubled for PowerShell

    # The server goes the same way, and really runs in the venv.
    assert _run_wrapped(result)[0] == str(venv.path)

    # Without -ExecutionPolicy Bypass the (fake) default policy refuses Activate.ps1 and python
    # runs outside the venv: the flag is what made the strategy work.
    without = [a for a in call["argv"] if a not in {"-ExecutionPolicy", "Bypass"}]
    done = subprocess.run(
        [wrap_argv(result, ["x"])[0], *without],
        env=result.env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert "running scripts is disabled on this system" in done.stderr
    assert f"ROBO_PREFIX={venv.path}" not in done.stdout


@fake_windows
def test_cmd_when_a_group_policy_refuses_activate_ps1(tmp_path: Path) -> None:
    box = WindowsBox(tmp_path, ("powershell", "cmd"), FAKE_PS_POLICY="group-policy")
    venv = windows_layout_venv(tmp_path / "R&D projects" / ".venv")
    result = choose_activation(venv, POWERSHELL, box.facts)

    assert _outcomes(result) == [("direct", False), ("powershell", False), ("cmd", True)]
    # PowerShell carried on after refusing the script: only the probe noticed.
    assert result.attempts[1]["error"].startswith("python ran outside the venv (sys.prefix ")
    bat = str(venv.path / "Scripts" / "activate.bat")
    assert [c["program"] for c in box.calls()] == ["powershell", "cmd"]
    cmd_argv = box.calls()[1]["argv"]
    assert cmd_argv == ["/d", "/c", "call", bat, "&&", "python", "-c", PROBE_CODE]
    # On Windows, Python joins argv with list2cmdline: the path with a space and `&` is quoted,
    # so cmd reads `&` inside it literally and `&&` outside as the operator.
    line = subprocess.list2cmdline(["cmd", *cmd_argv])
    assert f'call "{bat}" && python -c "{PROBE_CODE}"' in line
    assert _run_wrapped(result)[0] == str(venv.path)


@fake_windows
def test_wsl_when_powershell_and_cmd_both_fail(tmp_path: Path) -> None:
    # A path Windows allows (no double quote) that breaks activate.bat: `(x86)`.
    project = tmp_path / "Program Files (x86)" / "Ann's & ü $HOME" / "proj"
    linux = _uv_venv(project / ".venv", tmp_path)
    box = WindowsBox(tmp_path, ("powershell", "cmd", "wsl"), FAKE_PS_POLICY="group-policy")
    venv = windows_layout_venv(project / ".venv-windows")
    venv = VenvInfo(venv.path, venv.python, False, "test", "3", foreign=linux)
    result = choose_activation(venv, POWERSHELL, box.facts)

    assert _outcomes(result) == [
        ("direct", False),
        ("powershell", False),
        ("cmd", False),
        ("wsl", True),
    ]
    assert result.attempts[2]["error"].startswith("exit 255:")
    assert "was unexpected at this time." in result.attempts[2]["error"]  # the (x86) bug
    assert result.strategy == "wsl" and result.venv == str(linux)
    activate = quote_posix(str(linux / "bin" / "activate"))
    wsl_call = box.calls()[-1]
    assert wsl_call["program"] == "wsl"
    assert wsl_call["argv"] == [
        "-e",
        "bash",
        "-lc",
        f"source {activate} && exec python '-c' {quote_posix(PROBE_CODE)}",
    ]

    # The backend contract's variables cross into WSL through WSLENV (paths with /p).
    env = {
        **result.env,
        "ROBO_BACKEND_MODEL": "BAAI/bge-small-en-v1.5",
        "FASTEMBED_CACHE_PATH": "C:\\c",
    }
    assert run_env(result, env)["WSLENV"] == "FASTEMBED_CACHE_PATH/p:ROBO_BACKEND_MODEL"
    assert _run_wrapped(result, env) == [str(linux), "BAAI/bge-small-en-v1.5"]


def _uv_venv(path: Path, tmp: Path) -> Path:
    uv = tools_dir(tmp, "uv") / "uv"
    subprocess.run(
        [str(uv), "venv", "-q", "--python", base_python(), str(path)], check=True, timeout=120
    )
    return path


@fake_windows
def test_every_strategy_failing_is_one_error_with_each_attempt(tmp_path: Path) -> None:
    box = WindowsBox(tmp_path, ("powershell", "cmd"), FAKE_PS_POLICY="group-policy")
    venv = windows_layout_venv(tmp_path / "Program Files (x86)" / "proj" / ".venv")
    with pytest.raises(VenvError) as caught:
        choose_activation(venv, POWERSHELL, box.facts)
    message = caught.value.message
    order = [
        message.index(f"; {s}:") if s != "direct" else message.index("(direct:")
        for s in ("direct", "powershell", "cmd", "wsl", "posix")
    ]
    assert order == sorted(order)
    assert "powershell: python ran outside the venv" in message
    assert "cmd: exit 255" in message
    assert "wsl: skipped: no Linux venv" in message
    assert "posix: skipped: sh is not on PATH" in message
    assert "doctor" in caught.value.hint


@fake_windows
def test_forced_strategy_is_the_only_one_tried(tmp_path: Path) -> None:
    box = WindowsBox(tmp_path, ("powershell", "cmd"))
    venv = windows_layout_venv(tmp_path / "proj" / ".venv")
    result = choose_activation(venv, POWERSHELL, box.facts, "cmd")
    assert _outcomes(result) == [("cmd", True)]
    assert [c["program"] for c in box.calls()] == ["cmd"]
    with pytest.raises(VenvError) as caught:
        choose_activation(venv, POWERSHELL, box.facts, "wsl")
    assert "wsl: skipped: no Linux venv" in caught.value.message
    assert "--activation auto" in caught.value.hint
    with pytest.raises(UsageError):
        choose_activation(venv, POWERSHELL, box.facts, "bogus")


@fake_windows
def test_cmd_is_skipped_for_a_path_with_percent(tmp_path: Path) -> None:
    box = WindowsBox(tmp_path, ("powershell", "cmd"))
    venv = windows_layout_venv(tmp_path / "100% done" / ".venv")
    with pytest.raises(VenvError):
        choose_activation(venv, POWERSHELL, box.facts, "cmd")
    assert box.calls() == []  # never handed to cmd
    result = choose_activation(venv, POWERSHELL, box.facts)
    assert result.strategy == "powershell"  # PowerShell's single quotes carry % fine


@pytest.mark.parametrize(
    ("arg", "safe"),
    [
        ("C:\\Program Files (x86)\\p\\activate.bat", True),
        ("C:\\R&D\\activate.bat", False),
        ("a&b c", True),
        ("100%", False),
        ('say "hi"', False),
        ("--port", True),
        ("", False),
    ],
)
def test_cmd_unsafe(arg: str, safe: bool) -> None:
    assert (cmd_unsafe(arg) is None) == safe


def test_wsl_wrap_translates_windows_paths_in_the_server_argv() -> None:
    result = ActivationResult(
        "wsl",
        "pwsh",
        "/mnt/c/p/.venv",
        "p",
        "windows",
        program="wsl.exe",
        script="/mnt/c/p/.venv/bin/activate",
    )
    argv = wrap_argv(
        result, ["C:\\p\\.venv-windows\\Scripts\\python.exe", "--app-dir", "C:\\p\\src"]
    )
    assert argv == [
        "wsl.exe",
        "-e",
        "bash",
        "-lc",
        "source '/mnt/c/p/.venv/bin/activate' && exec python '--app-dir' '/mnt/c/p/src'",
    ]
