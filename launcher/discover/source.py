"""Read backend source files into facts, in the backend's own grammar when ours is too old.

The launcher's `ast` first; then the backend venv's interpreter running `scan.py`; without one,
a token scan for the module-level names. Nothing is imported or executed.
"""

from __future__ import annotations

import io
import json
import re
import tokenize
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from launcher import proc
from launcher.discover import scan

SCAN_TIMEOUT = 30.0
LAUNCHER, BACKEND, TOKENS = "launcher", "backend python", "tokens"


@dataclass(frozen=True)
class SourceFacts:
    """What one file says. `names` None means unknowable (a `*` import or an unreadable file).

    `parsed_by` is who read it: the launcher's Python, the backend's, or the token scan
    (names only); `error` says why the launcher's own parser failed, when it did.
    """

    path: Path
    names: frozenset[str] | None
    fastapi: tuple[str, ...] = ()
    embeds: tuple[dict[str, Any], ...] = ()
    literals: tuple[dict[str, Any], ...] = ()
    parsed_by: str = LAUNCHER
    error: str | None = None
    imports: dict[str, dict[str, Any]] = field(default_factory=dict)
    star_imports: tuple[dict[str, Any], ...] = ()
    aliases: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class _Pending:
    path: Path
    data: bytes
    error: str
    facts: SourceFacts | None = field(default=None)


def _from_json(path: Path, data: dict[str, Any], parsed_by: str, error: str | None) -> SourceFacts:
    names = data.get("names")
    return SourceFacts(
        path=path,
        names=None if names is None else frozenset(names),
        fastapi=tuple(data.get("fastapi") or ()),
        embeds=tuple(data.get("embeds") or ()),
        literals=tuple(data.get("literals") or ()),
        parsed_by=parsed_by,
        error=error,
        imports=dict(data.get("imports") or {}),
        star_imports=tuple(data.get("star_imports") or ()),
        aliases=dict(data.get("aliases") or {}),
    )


# The backend's python: a path, or a function finding it only when a file needs it (finding an
# interpreter that fits requires-python costs process starts, which most projects never need).
Interpreter = Path | Callable[[], "Path | None"] | None


def read_facts(
    paths: Iterable[Path], interpreter: Interpreter = None, wanted: re.Pattern[bytes] | None = None
) -> dict[Path, SourceFacts]:
    """The facts of every readable file in `paths` (unreadable files are left out, and so are
    those whose bytes `wanted` does not find), in the order of `paths`."""
    found: dict[Path, SourceFacts] = {}
    pending: list[_Pending] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            logger.debug(f"cannot read {path}: {exc}")
            continue
        if wanted is not None and not wanted.search(data):
            continue
        found[path] = SourceFacts(path, None)  # keeps the order of `paths`
        try:
            found[path] = _from_json(path, scan.scan_source(data, str(path)), LAUNCHER, None)
        except (SyntaxError, ValueError) as exc:
            pending.append(_Pending(path, data, f"{type(exc).__name__}: {exc}"))
    python = interpreter() if pending and callable(interpreter) else interpreter
    if pending and isinstance(python, Path):
        _with_backend_python(pending, python)
    for item in pending:
        found[item.path] = item.facts or _from_tokens(item.path, item.data, item.error)
    return found


def _with_backend_python(pending: list[_Pending], interpreter: Path) -> None:
    """Parse the files the launcher could not with the backend's interpreter (one process)."""
    argv = [str(interpreter), "-I", str(Path(scan.__file__)), *(str(p.path) for p in pending)]
    result = proc.run(argv, timeout=SCAN_TIMEOUT)
    if not result.ok:
        logger.debug(f"the backend's python could not scan its sources: {result.tail(3)}")
        return
    try:
        answers = json.loads(result.stdout)
    except ValueError:
        logger.debug("the backend's python gave no readable scan")
        return
    for item in pending:
        data = answers.get(str(item.path)) if isinstance(answers, dict) else None
        if isinstance(data, dict) and "error" not in data:
            item.facts = _from_json(item.path, data, BACKEND, item.error)


def _from_tokens(path: Path, data: bytes, error: str) -> SourceFacts:
    """Module-level names and `x = FastAPI(...)` from tokens (no grammar needed)."""
    try:
        names, fastapi = _token_names(data)
    except (tokenize.TokenError, SyntaxError, ValueError) as exc:
        logger.debug(f"cannot tokenize {path}: {exc}")
        return SourceFacts(path, None, parsed_by=TOKENS, error=error)
    known = None if names is None else frozenset(names)
    return SourceFacts(path, known, tuple(fastapi), parsed_by=TOKENS, error=error)


def _logical_lines(data: bytes) -> Iterator[list[tokenize.TokenInfo]]:
    """The top-level (unindented) logical lines of a module, as lists of significant tokens."""
    depth = 0
    line: list[tokenize.TokenInfo] = []
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.ENCODING}
    for token in tokenize.tokenize(io.BytesIO(data).readline):
        if token.type == tokenize.INDENT:
            depth += 1
        elif token.type == tokenize.DEDENT:
            depth -= 1
        elif token.type in (tokenize.NEWLINE, tokenize.ENDMARKER):
            if line:
                yield line
            line = []
        elif token.type not in skip and depth == 0:
            line.append(token)


def _token_names(data: bytes) -> tuple[set[str] | None, list[str]]:
    """Module-level names (None after a `*` import) and the names assigned `FastAPI(...)`."""
    names: set[str] = set()
    star = False
    fastapi: list[str] = []
    for line in _logical_lines(data):
        words = [t.string for t in line]
        first = words[0]
        if first in ("def", "class", "async") and len(words) > 1:
            names.add(words[2] if first == "async" and len(words) > 2 else words[1])
        elif first in ("import", "from"):
            star = star or "*" in words
            names.update(_imported(words))
        elif first == "type" and len(words) > 2 and words[2] in ("=", "["):
            names.add(words[1])
        elif line[0].type == tokenize.NAME and len(words) > 1 and words[1] in ("=", ":"):
            names.add(first)
            if "FastAPI" in words[2:5] and "(" in words[2:6]:
                fastapi.append(first)
    return (None if star else names), fastapi


def _imported(words: list[str]) -> set[str]:
    """Names bound by `import a.b as c, d` or `from m import (x, y as z)`."""
    if words[0] == "from":
        words = words[words.index("import") + 1 :] if "import" in words else []
    else:
        words = words[1:]
    names: set[str] = set()
    items = " ".join(w for w in words if w not in ("(", ")")).split(",")
    for item in items:
        parts = item.split()
        if not parts:
            continue
        name = parts[-1] if len(parts) >= 3 and parts[-2] == "as" else parts[0].split(".")[0]
        names.add(name)
    return names
