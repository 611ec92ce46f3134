"""The CLI as a user runs it: a real subprocess, exit codes, two-line errors, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from launcher import __version__
from tests.helpers.cli import CliRunner


def test_version_via_python_dash_m(run_cli: CliRunner) -> None:
    done = run_cli("--version")
    assert done.returncode == 0
    assert done.stdout.strip() == f"robo-backend {__version__}"


def test_help_lists_every_command(run_cli: CliRunner) -> None:
    done = run_cli("--help")
    assert done.returncode == 0
    for name in ("up", "prefetch", "doctor", "clear-cache", "activate"):
        assert name in done.stdout


def test_every_command_takes_project(tmp_path: Path, run_cli: CliRunner) -> None:
    for name in ("up", "prefetch", "doctor", "clear-cache", "activate"):
        done = run_cli(name, "--help")
        assert done.returncode == 0, done.stderr
        assert "--project" in done.stdout


def assert_two_line_error(
    done: subprocess.CompletedProcess[str], code: int, *fragments: str
) -> None:
    assert done.returncode == code, (done.stdout, done.stderr)
    assert "Traceback" not in done.stderr
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    error_lines = [line for line in lines if line.startswith("error:")]
    hint_lines = [line for line in lines if line.startswith("hint:")]
    assert len(error_lines) == 1, done.stderr
    assert len(hint_lines) == 1, done.stderr
    for fragment in fragments:
        assert fragment in done.stderr


def test_missing_project_is_exit_2_with_a_hint(tmp_path: Path, run_cli: CliRunner) -> None:
    done = run_cli("up", "-p", str(tmp_path / "missing"))
    assert_two_line_error(done, 2, "does not exist", "--project")


def test_malformed_pyproject_is_exit_2(tmp_path: Path, run_cli: CliRunner) -> None:
    (tmp_path / "pyproject.toml").write_text("[tool.robo-backend\n", encoding="utf-8")
    done = run_cli("up", "-p", str(tmp_path))
    assert_two_line_error(done, 2, "not valid TOML")


def test_out_of_range_port_is_exit_2(tmp_path: Path, run_cli: CliRunner) -> None:
    done = run_cli("up", "-p", str(tmp_path), "--port", "70000")
    assert_two_line_error(done, 2, "--port = 70000", "65535")


def test_non_numeric_port_is_a_usage_error(tmp_path: Path, run_cli: CliRunner) -> None:
    done = run_cli("up", "-p", str(tmp_path), "--port", "abc")
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "--port" in done.stderr


def test_debug_env_shows_the_traceback(tmp_path: Path, run_cli: CliRunner) -> None:
    done = run_cli("up", "-p", str(tmp_path / "missing"), env={"ROBO_BACKEND_DEBUG": "1"})
    assert done.returncode != 0
    assert "Traceback" in done.stderr
    assert "ProjectError" in done.stderr


@pytest.mark.parametrize(
    "module", ["fastembed", "onnxruntime", "huggingface_hub", "httpx", "loguru"]
)
def test_help_does_not_import_heavy_modules(module: str) -> None:
    code = (
        "import sys\n"
        "from launcher.cli import app\n"
        "try:\n"
        "    app(args=['--help'], prog_name='robo-backend')\n"
        "except SystemExit:\n"
        "    pass\n"
        f"print({module!r} in sys.modules)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.stdout.strip().splitlines()[-1] == "False", done.stdout + done.stderr


@pytest.mark.parametrize(
    ("env", "colored"),
    [
        ({"FORCE_COLOR": "1"}, True),
        ({"FORCE_COLOR": "1", "NO_COLOR": "1"}, False),
        ({"FORCE_COLOR": "1", "NO_COLOR": ""}, True),  # an empty NO_COLOR is ignored
        ({}, False),  # not a terminal: plain text
    ],
)
def test_color_follows_no_color_and_force_color(
    tmp_path: Path, env: dict[str, str], colored: bool, run_cli: CliRunner
) -> None:
    done = run_cli("up", "-p", str(tmp_path / "missing"), env={"NO_COLOR": None, **env})
    assert done.returncode == 2
    # "error:" is red when colour is on; NO_COLOR removes colours (bold/dim may stay: no-color.org)
    assert ("\x1b[31m" in done.stderr) is colored, repr(done.stderr)
    assert "does not exist" in done.stderr


def test_verbose_and_quiet_work_after_the_subcommand_too(
    tmp_path: Path, run_cli: CliRunner
) -> None:
    # `up -v` used to be "No such option: -v": the global options work on either side (as uv's)
    done = run_cli("up", "-p", str(tmp_path / "missing"), "-v")
    assert_two_line_error(done, 2, "does not exist")
    offline = {"ROBO_BACKEND_OFFLINE": "1", "ROBO_BACKEND_CACHE_DIR": str(tmp_path / "cache")}
    (tmp_path / "main.py").write_text("app = object()\n", encoding="utf-8")
    for args in (("-v", "doctor"), ("doctor", "-v")):
        verbose = run_cli(*args, "-p", str(tmp_path), env=offline)
        assert "port = 8000  (default)" in verbose.stdout, (args, verbose.stdout)
    for args in (("-q", "doctor"), ("doctor", "-q")):
        quiet = run_cli(*args, "-p", str(tmp_path), env=offline)
        assert "[✓]" not in quiet.stdout and "[OK]" not in quiet.stdout, (args, quiet.stdout)


def test_help_shows_each_setting_default(run_cli: CliRunner) -> None:
    done = run_cli("up", "--help")
    assert done.returncode == 0
    text = " ".join(done.stdout.split())  # the help is wrapped to the terminal width
    for expected in (
        "[default: 8000]",
        "[default: 127.0.0.1]",
        "[default: .venv]",
        "[default: 3]",
        "[default: 10.0]",
        "[default: 60.0]",
        "[default: auto]",
        "[default: discovered]",
    ):
        assert expected in text, expected
    assert "-v, --verbose" in done.stdout and "-q, --quiet" in done.stdout


def test_the_degraded_step_says_a_restart_is_needed_after_prefetch() -> None:
    from launcher.up.view import model_summary

    text = model_summary(None, "degraded")
    assert "DEGRADED" in text and "robo-backend prefetch" in text and "restart `up`" in text
    assert model_summary("BAAI/bge-small-en-v1.5", "ready") == "BAAI/bge-small-en-v1.5 (ready)"


@pytest.mark.parametrize("value", ["off", "no", "0", "false", ""])
def test_debug_off_words_mean_off(tmp_path: Path, value: str, run_cli: CliRunner) -> None:
    # one truthy parser: ROBO_BACKEND_DEBUG=off used to turn tracebacks on here only
    done = run_cli("up", "-p", str(tmp_path / "missing"), env={"ROBO_BACKEND_DEBUG": value})
    assert_two_line_error(done, 2, "does not exist")


def test_a_bug_is_reported_in_two_redacted_lines_with_the_traceback_in_the_log(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import typer

    from launcher.cli import boundary

    secret = "planted-bug-secret-4242"
    monkeypatch.setenv("SERVICE_API_KEY", secret)
    monkeypatch.setenv("ROBO_BACKEND_LOG_DIR", str(tmp_path / "logs"))
    from launcher.ui import console

    console.setup_logging()

    def buggy() -> None:
        raise RuntimeError(f"unexpected state while talking to http://u:{secret}@mirror/")

    with pytest.raises(typer.Exit) as caught:
        boundary(buggy)()
    assert caught.value.exit_code == 1
    err = capsys.readouterr().err
    assert "error: internal error (a bug in robo-backend): RuntimeError" in err
    assert "hint: The traceback is in" in err and "Traceback" not in err
    log = (tmp_path / "logs" / "robo-backend.log").read_text("utf-8")
    assert "Traceback" in log and "RuntimeError: unexpected state" in log
    assert secret not in err + log
    assert boundary(lambda: 7)() == 7  # the happy path is untouched


@pytest.mark.parametrize(
    ("args", "env"),
    [
        (("--retry-delay", "inf"), {}),
        ((), {"ROBO_BACKEND_STALL_TIMEOUT": "1e400"}),
    ],
)
def test_infinite_numbers_are_usage_errors_not_crashes(
    tmp_path: Path, args: tuple[str, ...], env: dict[str, str], run_cli: CliRunner
) -> None:
    done = run_cli("prefetch", "-p", str(tmp_path), "--offline", *args, env=env)
    assert_two_line_error(done, 2, "is not valid")
    assert "OverflowError" not in done.stderr


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["--port", "abc"], "Invalid value for '--port': 'abc' is not a valid integer"),
        (["--ready-timeout", "soon"], "Invalid value for '--ready-timeout': 'soon' is not a"),
        (["--retries", "2.5"], "Invalid value for '--retries': '2.5' is not a valid integer"),
    ],
)
def test_a_bad_option_value_is_a_usage_error_naming_the_option(
    tmp_path: Path, args: list[str], said: str, run_cli: CliRunner
) -> None:
    done = run_cli("up", "-p", str(tmp_path), *args)
    assert done.returncode == 2
    assert said in done.stderr and "Traceback" not in done.stderr


def test_status_and_error_lines_are_written_whole(monkeypatch: pytest.MonkeyPatch) -> None:
    """The backend's output is relayed from another thread while `up` prints its own lines: a
    line written in pieces got the backend's access log glued into it
    (`✓ Backend ready at … (pid 7)INFO: 127.0.0.1 - "GET /health" 200`)."""
    import io

    from rich.console import Console

    from launcher.ui import console

    class Writes(io.StringIO):
        calls: list[str] = []

        def write(self, text: str) -> int:
            self.calls.append(text)
            return len(text)

    out = Writes()
    monkeypatch.setattr(console, "_console", Console(file=out, highlight=False, soft_wrap=True))
    console.line("ok", "Backend ready at http://127.0.0.1:8000 (pid 7)", "health route /api/health")
    console.error("port 8000 is in use [by pid 9]", "Pick another port with --port.")
    mark = console.symbol("ok")  # ✓, or OK where the console cannot show it
    assert out.calls == [
        f"{mark} Backend ready at http://127.0.0.1:8000 (pid 7)  health route /api/health\n",
        "error: port 8000 is in use [by pid 9]\nhint: Pick another port with --port.\n",
    ]


def test_a_handled_ctrl_c_exits_130_under_python_dash_m() -> None:
    """A Ctrl-C caught by the CLI's boundary is exit 130, not death by SIGINT (-2), even when it
    landed inside code run by `exec` of a string: CPython remembers that as unhandled, and under
    `python -m` would kill itself with SIGINT at exit (a Ctrl-C while `up` imports a module)."""
    repo = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-m", "tests.helpers.handled_interrupt"], cwd=repo, timeout=60
    )
    assert done.returncode == 130
