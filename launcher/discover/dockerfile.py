"""Read a Dockerfile for the command its image runs and where the project's files land in it.

The last `CMD`/`ENTRYPOINT` (an exec-form ENTRYPOINT takes an exec-form CMD as arguments), the
`WORKDIR` they run in and the `COPY`/`ADD` lines that map it back into the project. Build
arguments are not expanded; a last stage without a command runs the one an earlier stage set.
"""

from __future__ import annotations

import json
import posixpath
import re
from dataclasses import dataclass, field
from pathlib import Path

_INSTRUCTION = re.compile(r"^\s*([A-Za-z]+)\s+(.*)$", re.DOTALL)


@dataclass(frozen=True)
class Copy:
    """`COPY src dest` from the build context: the project folder `source` lands at `dest`."""

    source: str
    dest: str


@dataclass
class ImageFacts:
    """What the image runs: the commands (each with its origin) and its folders."""

    commands: list[tuple[str, str | list[str]]] = field(default_factory=list)
    workdir: str = "/"
    copies: list[Copy] = field(default_factory=list)


def _logical_lines(text: str) -> list[str]:
    """Instructions with their `\\` continuations joined, comments and blank lines dropped."""
    lines: list[str] = []
    current = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if current and stripped.startswith("#"):
            continue  # a comment inside a continued instruction
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    if current:
        lines.append(current)
    return lines


def _value(text: str) -> str | list[str]:
    """The exec form (a JSON list of strings) when it is one, else the shell form."""
    text = text.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            return text
        if isinstance(parsed, list) and all(isinstance(item, str) for item in parsed):
            return parsed
    return text


def _copy(argument: str, workdir: str) -> list[Copy]:
    words = [w for w in argument.split() if not w.startswith("--")]
    if any(w.startswith("--from") for w in argument.split()):
        return []  # from another stage or image, not from the project
    parsed = _value(argument)
    if isinstance(parsed, list):
        words = parsed
    if len(words) < 2:
        return []
    dest = posixpath.normpath(posixpath.join(workdir, words[-1]))
    return [Copy(posixpath.normpath(source.lstrip("/")), dest) for source in words[:-1]]


def read_dockerfile(path: Path) -> ImageFacts | None:
    """The image facts of one Dockerfile, or None when it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    facts = ImageFacts()
    stage: dict[str, str | list[str]] = {}  # CMD and ENTRYPOINT of the current stage
    earlier: dict[str, str | list[str]] = {}  # of the stages before (one may be the base)
    for line in _logical_lines(text):
        match = _INSTRUCTION.match(line)
        if match is None:
            continue
        keyword, argument = match.group(1).upper(), match.group(2)
        if keyword == "FROM":
            earlier.update(stage)
            stage = {}
            facts.workdir = "/"  # (a stage on an earlier one starts in its folder: not followed)
        elif keyword == "WORKDIR":
            facts.workdir = posixpath.normpath(posixpath.join(facts.workdir, argument.strip()))
        elif keyword in ("COPY", "ADD"):
            facts.copies += _copy(argument, facts.workdir)
        elif keyword in ("CMD", "ENTRYPOINT"):
            stage[keyword] = _value(argument)
    final = stage or earlier  # a last stage without its own command runs its base's
    facts.commands = _commands(final.get("ENTRYPOINT"), final.get("CMD"))
    return facts


def _commands(
    entrypoint: str | list[str] | None, cmd: str | list[str] | None
) -> list[tuple[str, str | list[str]]]:
    """What the container runs, most specific first."""
    found: list[tuple[str, str | list[str]]] = []
    if isinstance(entrypoint, list) and isinstance(cmd, list):
        found.append(("ENTRYPOINT + CMD", entrypoint + cmd))
    if entrypoint is not None:
        found.append(("ENTRYPOINT", entrypoint))
    if cmd is not None and not isinstance(entrypoint, str):  # a shell ENTRYPOINT ignores CMD
        found.append(("CMD", cmd))
    return found


def project_folders(facts: ImageFacts, container: str, project: Path) -> list[Path]:
    """The project folders whose files appear at `container` (a folder in the image), from the
    COPY lines, latest first; the project itself when nothing is copied there."""
    container = posixpath.normpath(container)
    found: list[Path] = []
    for copy in reversed(facts.copies):
        dest = copy.dest
        if dest == container:
            found.append(project / copy.source)
        elif container.startswith(dest.rstrip("/") + "/"):
            found.append(project / copy.source / posixpath.relpath(container, dest))
        elif dest.startswith(container.rstrip("/") + "/"):
            # COPY ./app /code/app, imported from /code: the project folder holding app/
            tail = Path(posixpath.relpath(dest, container))
            source = Path(copy.source)
            if source.parts[-len(tail.parts) :] == tail.parts:
                found.append(project.joinpath(*source.parts[: -len(tail.parts)]))
    folders = [p for p in dict.fromkeys(found) if p.is_dir()]
    return folders or [project]
