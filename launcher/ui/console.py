"""All human output goes through here: progress and logs on stderr, reports on stdout.

With `--json` stdout carries only the JSON document; foreign text is printed with markup off.
A terminal or pipe that closes is a hangup: the first failed write points stdout and stderr at
the null device and raises ConsoleGone (exit 129); later output goes to the log file only.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger
from rich.console import Console

from launcher.errors import EXIT_HANGUP, LauncherError
from launcher.redact import redact


class ConsoleGone(LauncherError, OSError):
    """The terminal or pipe the output goes to was closed: stop as on a hangup (129). An
    OSError too, so code that already treats a failing write as a lost console keeps doing so."""

    exit_code = EXIT_HANGUP


class _Console(Console):
    """Rich's console, except that a closed pipe is a hangup (see the module docstring)."""

    def on_broken_pipe(self) -> None:
        self.quiet = True
        raise console_gone()


_gone = False


def console_gone() -> ConsoleGone:
    """Mark the console as gone (once: stdout/stderr to the null device) and return the error
    that stops the launcher. Nothing is logged here: this may run inside a loguru sink."""
    global _gone
    if not _gone:
        _gone = True
        for out in (_console, _report):
            if out is not None:
                out.quiet = True
        _to_null()
    return ConsoleGone(
        "the terminal or pipe of the output was closed", "Run it again where the output is read."
    )


def _to_null() -> None:
    """Point stdout and stderr at the null device: the terminal or pipe is gone, and every later
    write (ours, Rich's, loguru's, the interpreter's at exit) must not fail."""
    with contextlib.suppress(OSError):
        null = os.open(os.devnull, os.O_WRONLY)
        for fd in (1, 2):
            with contextlib.suppress(OSError):
                os.dup2(null, fd)
        os.close(null)


_console: Console | None = None
_report: Console | None = None
_quiet = False
_command: str | None = None
COMMAND = "robo-backend"


def command_name(argv0: str | None = None, cwd: str | None = None) -> str:
    """The launcher's command as the user ran it, for hints: `robo-backend` when that is what
    they typed (or it is found on PATH), `.venv/bin/robo-backend` when they typed a path,
    `python -m launcher` for the module."""
    import shutil

    arg = sys.argv[0] if argv0 is None else argv0
    path = Path(arg)
    if path.name == "__main__.py" or arg in ("", "-c", "-m"):
        python = Path(sys.executable)
        on_path = shutil.which(python.name)
        same = on_path is not None and os.path.realpath(on_path) == os.path.realpath(python)
        return f"{python.name if same else _shortest(python, cwd)} -m launcher"
    if not path.is_absolute():
        return arg  # typed: a bare name found on PATH, or a relative path
    name = path.stem if path.suffix.lower() == ".exe" else path.name
    on_path = shutil.which(name)
    if on_path is not None and os.path.realpath(on_path) == os.path.realpath(path):
        return name
    return _shortest(path, cwd)


def _shortest(path: Path, cwd: str | None) -> str:
    """`path` relative to the working folder when it is below it, else absolute."""
    here = cwd if cwd is not None else os.getcwd()
    try:
        relative = os.path.relpath(path, here)
    except ValueError:  # another drive on Windows
        return str(path)
    if relative.startswith(".."):
        return str(path)
    return relative if os.sep in relative else os.path.join(".", relative)


def as_run(text: str) -> str:
    """`text` with each `robo-backend …` in backquotes written as the user ran the command."""
    global _command
    if _command is None:
        _command = command_name()
    if _command == COMMAND or "`" + COMMAND not in text:
        return text
    return text.replace("`" + COMMAND + " ", "`" + _command + " ").replace(
        "`" + COMMAND + "`", "`" + _command + "`"
    )


def get_console() -> Console:
    """The shared stderr console (created on first use, so no environment is read at import)."""
    global _console
    if _console is None:
        _console = _Console(stderr=True, highlight=False, soft_wrap=True, quiet=_gone)
    return _console


def get_report_console() -> Console:
    """The stdout console for a command's human report (created on first use)."""
    global _report
    if _report is None:
        _report = _Console(file=sys.stdout, highlight=False, soft_wrap=True, quiet=_gone)
    return _report


def reset_console() -> None:
    """Forget the consoles so the next call re-reads the environment (tests, NO_COLOR changes)."""
    global _console, _report
    _console = _report = None


def is_interactive() -> bool:
    """True when stderr is a terminal a person watches (bars and prompts make sense)."""
    return get_console().is_terminal and not _quiet


def unicode_ok(out: Console) -> bool:
    """False on consoles that cannot show ✓/✗ (legacy Windows code pages): use ASCII there."""
    encoding = (getattr(out.file, "encoding", None) or "").lower().replace("-", "")
    return encoding in {"utf8", "utf16", "utf32", "utf8sig"}


def symbol(status: str, *, report: bool = False) -> str:
    """The mark for a status: ok, warn, fail, run (`report`: as the stdout console can show it)."""
    fancy = {"ok": "✓", "warn": "!", "fail": "✗", "run": "…"}
    plain = {"ok": "OK", "warn": "!", "fail": "X", "run": "..."}
    out = get_report_console() if report else get_console()
    return (fancy if unicode_ok(out) else plain)[status]


_STYLE = {"ok": "green", "warn": "yellow", "fail": "red", "run": "cyan"}


def _to_log(level: str, text: str) -> bool:
    """True when the console is gone and `text` went to the log file instead."""
    if _gone:
        logger.log(level, f"(not shown, the output was closed) {redact(text)}")
    return _gone


def line(status: str, text: str, detail: str = "", *, report: bool = False) -> None:
    """Print one status line: `✓ text  detail`, text printed literally (`report`: on stdout)."""
    if _to_log("INFO", f"{text}  {detail}".strip()) or (_quiet and status in {"ok", "run"}):
        return
    from rich.text import Text

    out = get_report_console() if report else get_console()
    mark = symbol(status, report=report)
    # One print, so one write: the backend's output (relayed from another thread) cannot land
    # in the middle of the line.
    message = Text.assemble((mark, _STYLE[status]), " ", as_run(redact(text)))
    if detail:
        message.append("  " + as_run(redact(detail)), style="dim")
    out.print(message)


def info(text: str, *, report: bool = False) -> None:
    """A plain line (`report`: part of the command's report, on stdout); hidden by `-q`."""
    if not _to_log("INFO", text) and not _quiet:
        out = get_report_console() if report else get_console()
        out.print(as_run(redact(text)), markup=False)


def _labelled(label: str, text: str, hint: str, hint_indent: str) -> None:
    """`label text` then, when there is one, `hint: …` (the text itself printed literally)."""
    from rich.text import Text

    said = f"{Text.from_markup(label).plain} {text}" + (f" (hint: {hint})" if hint else "")
    if _to_log("WARNING", said):
        return
    out = get_console()
    message = Text.from_markup(label).append(" " + as_run(redact(text)))  # one print, one write
    if hint:
        shown = as_run(redact(hint))
        message.append("\n" + hint_indent).append("hint:", style="dim").append(" " + shown)
    out.print(message)


def warn(text: str, hint: str = "") -> None:
    """A warning on stderr: `warning: text`, its hint indented below."""
    _labelled("[yellow]warning:[/]", text, hint, "  ")


def error(text: str, hint: str = "") -> None:
    """The two-line error format of the error boundary."""
    _labelled("[red]error:[/]", text, hint, "")


def emit_json(document: Any) -> None:
    """Print one JSON document on stdout (and nothing else goes to stdout)."""
    _write_stdout(redact(json.dumps(document, indent=2, default=str)) + "\n")


def emit_stdout(text: str) -> None:
    """Raw text for stdout (shell code for `activate`)."""
    _write_stdout(text if text.endswith("\n") else text + "\n")


def _write_stdout(text: str) -> None:
    try:
        sys.stdout.write(text)
        sys.stdout.flush()
    except BrokenPipeError:  # `prefetch --json | head -1`: the reader is gone
        raise console_gone() from None


@dataclass
class Step:
    """A pipeline step being timed; `passed` is what an ok line says instead of `title`, so a
    failed or warning line never reads as a success."""

    title: str
    detail: str = ""
    status: str = "ok"
    started: float = field(default_factory=time.perf_counter)
    passed: str = ""

    @property
    def label(self) -> str:
        return (self.passed or self.title) if self.status == "ok" else self.title

    def timing(self) -> str:
        """`detail, 1.2 s` (or `12 ms`)."""
        seconds = time.perf_counter() - self.started
        took = f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
        return f"{self.detail}, {took}" if self.detail else took


@contextmanager
def step(title: str, passed: str = "") -> Iterator[Step]:
    """Time a step: `✓ passed  detail, 1.2 s`, `! title  detail` on a warning, `✗ title  failed,
    12 ms` on an exception (which propagates unchanged)."""
    current = Step(title, passed=passed)
    try:
        yield current
    except BaseException:
        current.status = "fail"
        line("fail", current.label, "failed, " + current.timing())
        raise
    line(current.status, current.label, current.timing())


def log_dir() -> Path:
    """Where the rotating log file lives (ROBO_BACKEND_LOG_DIR overrides platformdirs)."""
    override = os.environ.get("ROBO_BACKEND_LOG_DIR")
    if override:
        return Path(override)
    from platformdirs import user_log_dir

    return Path(user_log_dir("robo-backend", appauthor=False))


def setup_logging(verbose: bool = False, quiet: bool = False) -> None:
    """Wire loguru: messages to the console, everything to a rotating file, secrets redacted."""
    global _quiet
    _quiet = quiet
    logger.remove()
    level = "DEBUG" if verbose else ("WARNING" if quiet else "INFO")

    def to_console(message: Any) -> None:
        if _gone:
            return  # the log file has it
        record = message.record
        text = record["message"]
        levelno = record["level"].no
        if levelno >= 40:
            error(text)
        elif levelno >= 30:
            warn(text)
        else:
            shown = as_run(redact(text))
            get_console().print(shown, markup=False, style="dim" if levelno < 20 else None)

    # catch=False: a console that is gone (ConsoleGone) stops the launcher from a log call too,
    # instead of loguru printing the error to that same closed pipe and going on unheard.
    logger.add(to_console, level=level, format="{message}", catch=False)
    try:
        directory = log_dir()
        directory.mkdir(parents=True, exist_ok=True)
        logger.add(
            directory / "robo-backend.log",
            level="DEBUG",
            rotation="5 MB",
            retention=3,
            encoding="utf-8",
            format="{time:YYYY-MM-DD HH:mm:ss.SSS} | {level: <8} | {process} | {message}",
            filter=_redact_record,
        )
    except OSError as exc:  # an unwritable log dir must never stop the launcher
        logger.debug(f"no log file: {exc}")


def _redact_record(record: Any) -> bool:
    """The log file's filter: the message, and a traceback's text, with secrets hidden."""
    record["message"] = redact(record["message"])
    caught = record["exception"]
    if caught is not None and caught.value is not None:
        import traceback

        lines = traceback.format_exception(caught.type, caught.value, caught.traceback)
        record["message"] += "\n" + redact("".join(lines)).rstrip()
        record["exception"] = None  # loguru would print the unredacted one
    return True
