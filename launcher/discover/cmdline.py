"""Read a command line that starts a server into the app it names: uvicorn, gunicorn, fastapi run.

The forms understood are listed in docs/adoption.md. Nothing is run: the words are read.
"""

from __future__ import annotations

import posixpath
import re
import shlex
from dataclasses import dataclass

# `module:attr`, as uvicorn and gunicorn take it (gunicorn also `module:factory()`)
_SPEC = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*(\(.*\))?$")
_SERVERS = ("uvicorn", "gunicorn", "fastapi")
_SHELLS = ("sh", "bash", "dash", "ash", "zsh")
_SEPARATORS = frozenset({"&&", "||", ";", "|", "&", "\n", "(", ")"})
_UVICORN_FLAGS = frozenset(
    {
        "--reload",
        "--use-colors",
        "--no-use-colors",
        "--access-log",
        "--no-access-log",
        "--proxy-headers",
        "--no-proxy-headers",
        "--server-header",
        "--no-server-header",
        "--date-header",
        "--no-date-header",
        "--factory",
        "--version",
        "--help",
    }
)
_GUNICORN_FLAGS = frozenset(
    {"--reload", "--preload", "--capture-output", "--daemon", "-D", "--check-config", "--help"}
)
_FASTAPI_FLAGS = frozenset(
    {"--reload", "--no-reload", "--proxy-headers", "--no-proxy-headers", "--help"}
)


@dataclass(frozen=True)
class ServerCall:
    """The app one server command names, as written (paths relative to where it runs).

    `spec` is `module:attr` (uvicorn, gunicorn, `fastapi run -e`); `path` is `fastapi run`'s
    file or package argument (with `attr` its `--app`); `app_dir` is where the import starts
    (`--app-dir`, `--chdir`); `cwd` is the folder a `cd` moved to first; `worker` is gunicorn's
    worker class when one is given.
    """

    tool: str
    spec: str | None = None
    path: str | None = None
    attr: str | None = None
    app_dir: str | None = None
    cwd: str | None = None
    factory: bool = False
    worker: str | None = None

    @property
    def named(self) -> str:
        """What the command names, for messages: `pkg.service:app` or `app/main.py`."""
        if self.spec:
            return self.spec
        target = self.path or "(fastapi-cli's default files)"
        return f"{target} --app {self.attr}" if self.attr else target


def _plain(text: str) -> str:
    """`text` without comments, its unquoted line ends made `;` (continuations joined)."""
    out: list[str] = []
    quote, comment = "", False
    text = re.sub(r"\\\r?\n", " ", text)
    for index, char in enumerate(text):
        if comment:
            comment = char != "\n"
            if comment:
                continue
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t\n;"):
            comment = True
            continue
        elif char == "\n":
            char = " ; "
        out.append(char)
    return "".join(out)


def words(command: str) -> list[str]:
    """Shell words of `command`, with the separators `&&`, `;`, `|`, line ends as words."""
    text = _plain(command)
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()")
    lexer.whitespace_split = True
    lexer.commenters = ""
    try:
        return list(lexer)
    except ValueError:  # an unclosed quote: plain words are still worth reading
        return text.split()


def server_calls(command: str | list[str], cwd: str | None = None) -> list[ServerCall]:
    """Every server start in a shell command (a string) or an exec-form argv (a list)."""
    argv = words(command) if isinstance(command, str) else list(command)
    found: list[ServerCall] = []
    segment: list[str] = []
    for word in [*argv, ";"]:
        if word not in _SEPARATORS:
            segment.append(word)
            continue
        cwd = _segment(segment, cwd, found)
        segment = []
    return found


def _segment(argv: list[str], cwd: str | None, found: list[ServerCall]) -> str | None:
    """Read one simple command into `found`; returns the working folder after it (`cd`)."""
    if not argv:
        return cwd
    if argv[0] == "cd":
        target = argv[1] if len(argv) > 1 else None
        if target is None or target.startswith(("$", "~")):
            return cwd
        return posixpath.normpath(posixpath.join(cwd or ".", target))
    shell = _shell_script(argv)
    if shell is not None:
        found.extend(server_calls(shell, cwd))
        return cwd
    start = _server_index(argv)
    if start is None:
        return cwd
    tool, rest = start
    call = _PARSERS[tool](rest, cwd)
    if call is not None:
        found.append(call)
    return cwd


def _shell_script(argv: list[str]) -> str | None:
    """The script of `sh -c "..."` (also `bash -lc`, `/bin/sh -ec`), else None."""
    for index, word in enumerate(argv[:-1]):
        if posixpath.basename(word) in _SHELLS:
            option = argv[index + 1]
            if option.startswith("-") and not option.startswith("--") and "c" in option:
                return argv[index + 2] if index + 2 < len(argv) else None
            return None
    return None


def _server_index(argv: list[str]) -> tuple[str, list[str]] | None:
    """Which server the command runs and its arguments, past `uv run`, `exec`, `env`, ...."""
    for index, word in enumerate(argv):
        name = posixpath.basename(word.replace("\\", "/")).removesuffix(".exe")
        if name in _SERVERS:
            return name, argv[index + 1 :]
        if re.fullmatch(r"python(\d+(\.\d+)?)?", name) and argv[index + 1 : index + 2] == ["-m"]:
            module = argv[index + 2] if index + 2 < len(argv) else ""
            module = "fastapi" if module == "fastapi_cli" else module
            if module in _SERVERS:
                return module, argv[index + 3 :]
            return None
    return None


def _option(word: str) -> tuple[str, str | None]:
    """`--port=80` → ("--port", "80"); `--port` → ("--port", None)."""
    if word.startswith("--") and "=" in word:
        name, _, value = word.partition("=")
        return name, value
    return word, None


def _options(
    args: list[str], flags: frozenset[str], short_values: tuple[str, ...] = ()
) -> tuple[dict[str, str], list[str], set[str]]:
    """Split arguments into options with values, positionals and flags. An unknown option
    takes the next word as its value unless that word is an app spec."""
    values: dict[str, str] = {}
    positional: list[str] = []
    seen: set[str] = set()
    index = 0
    while index < len(args):
        name, value = _option(args[index])
        index += 1
        if not name.startswith("-") or name == "-":
            positional.append(name)
            continue
        seen.add(name)
        if value is None and name[:2] in short_values and len(name) > 2:
            name, value = name[:2], name[2:]  # -kuvicorn.workers.UvicornWorker
        if value is None and name not in flags and index < len(args):
            following = args[index]
            if not _SPEC.match(following) or name in ("-e", "--entrypoint", "-k"):
                value = following
                index += 1
        if value is not None:
            values[name] = value
    return values, positional, seen


def _uvicorn(args: list[str], cwd: str | None) -> ServerCall | None:
    values, positional, seen = _options(args, _UVICORN_FLAGS)
    spec = next((word for word in positional if _SPEC.match(word)), None)
    if spec is None:
        return None
    return ServerCall(
        "uvicorn", spec, app_dir=values.get("--app-dir"), cwd=cwd, factory="--factory" in seen
    )


def _gunicorn(args: list[str], cwd: str | None) -> ServerCall | None:
    values, positional, _ = _options(args, _GUNICORN_FLAGS, short_values=("-k", "-c"))
    spec = next((word for word in positional if _SPEC.match(word)), None)
    if spec is None:
        return None
    factory = spec.endswith(")")
    spec = spec.split("(", 1)[0]
    app_dir = values.get("--chdir") or (values.get("--pythonpath") or "").split(",")[0] or None
    worker = values.get("-k") or values.get("--worker-class")
    return ServerCall("gunicorn", spec, app_dir=app_dir, cwd=cwd, factory=factory, worker=worker)


def _fastapi(args: list[str], cwd: str | None) -> ServerCall | None:
    if not args or args[0] not in ("run", "dev"):
        return None
    values, positional, _ = _options(args[1:], _FASTAPI_FLAGS)
    entry = values.get("-e") or values.get("--entrypoint")
    if entry is not None:
        return ServerCall("fastapi", entry, cwd=cwd) if _SPEC.match(entry) else None
    path = positional[0] if positional else None
    return ServerCall("fastapi", path=path, attr=values.get("--app"), cwd=cwd)


_PARSERS = {"uvicorn": _uvicorn, "gunicorn": _gunicorn, "fastapi": _fastapi}


def is_asgi_worker(worker: str | None) -> bool:
    """Does gunicorn run the app as ASGI? Unknown (no -k here: a config file may say) counts."""
    return worker is None or "uvicorn" in worker.lower()


def quote(argv: list[str]) -> str:
    """An argv as one shell line, for messages."""
    return shlex.join(argv)
