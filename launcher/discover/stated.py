"""Where the project itself says how its app runs, in the order `up` believes them.

`[tool.fastapi]`, a Dockerfile (and the start script it runs), a Procfile, a compose file (the
order is in docs/adoption.md). Each statement carries its command line, its origin for
messages and the folders its paths are relative to; whether its module exists is `apps.py`'s
question.
"""

from __future__ import annotations

import posixpath
import sys
from dataclasses import dataclass
from pathlib import Path

from loguru import logger

from launcher.discover.cmdline import ServerCall, server_calls, words
from launcher.discover.compose import COMPOSE_FILES, read_compose
from launcher.discover.dockerfile import ImageFacts, project_folders, read_dockerfile

_SCRIPT_SUFFIXES = (".sh", ".bash")
_MAX_SCRIPT = 100_000


@dataclass(frozen=True)
class Statement:
    """One statement of the app: the call, where it was read, the folders it runs from."""

    origin: str
    call: ServerCall
    roots: tuple[Path, ...]


def project_statements(project: Path) -> list[Statement]:
    """Every statement the project makes, in the order of the module docstring."""
    found = _fastapi_entrypoint(project)
    for path in _dockerfiles(project):
        found += _from_dockerfile(project, path)
    found += _from_procfile(project)
    for name in COMPOSE_FILES:
        if (project / name).is_file():
            found += _from_compose(project, name)
    return found


def _from_compose(project: Path, name: str) -> list[Statement]:
    """Each service's command; an `entrypoint:` takes the `command:` as its arguments."""
    services: dict[str, dict[str, str | list[str]]] = {}
    for item in read_compose(project / name):
        services.setdefault(item.service, {})[item.key] = item.value
    found: list[Statement] = []
    for service, keys in services.items():
        entrypoint, command = keys.get("entrypoint"), keys.get("command")
        forms: list[tuple[str, str | list[str]]] = []
        if entrypoint is not None and command is not None:
            forms.append(("entrypoint + command", _argv(entrypoint) + _argv(command)))
        forms += [(key, value) for key, value in keys.items()]
        for key, value in forms:
            origin = f"{name} {key} (service {service})"
            statements = _statements(project, origin, value, ".", None)
            if statements:
                found += statements
                break
    return found


def _argv(value: str | list[str]) -> list[str]:
    return value if isinstance(value, list) else words(value)


def _fastapi_entrypoint(project: Path) -> list[Statement]:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover (3.10)
        import tomli as tomllib
    pyproject = project / "pyproject.toml"
    if not pyproject.is_file():
        return []
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        logger.debug(f"no [tool.fastapi] read from pyproject.toml: {exc}")
        return []
    tool = data.get("tool")
    section = tool.get("fastapi") if isinstance(tool, dict) else None
    entry = section.get("entrypoint") if isinstance(section, dict) else None
    if not isinstance(entry, str) or not entry.strip():
        return []
    call = ServerCall("fastapi", entry.strip())
    return [Statement("pyproject.toml [tool.fastapi] entrypoint", call, (project,))]


def _dockerfiles(project: Path) -> list[Path]:
    found: list[Path] = []
    for folder in (project, project / "docker"):
        try:
            names = sorted(p.name for p in folder.iterdir() if p.is_file())
        except OSError:
            continue
        lower = {name.lower(): name for name in names}
        exact = [lower[n] for n in ("dockerfile", "containerfile") if n in lower]
        variants = [
            n
            for n in names
            if n not in exact
            and (n.lower().startswith("dockerfile.") or n.lower().endswith(".dockerfile"))
        ]
        found += [folder / name for name in (*exact, *variants)]
    return found


def _from_dockerfile(project: Path, path: Path) -> list[Statement]:
    facts = read_dockerfile(path)
    if facts is None:
        return []
    label = path.relative_to(project).as_posix()
    found: list[Statement] = []
    for instruction, command in facts.commands:
        origin = f"{label} {instruction}"
        found += _statements(project, origin, command, facts.workdir, facts)
        if found:
            break  # the command the image runs; the others are its parts
    return found


def _from_procfile(project: Path) -> list[Statement]:
    try:
        text = (project / "Procfile").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    for line in text.splitlines():
        name, _, command = line.partition(":")
        if name.strip() == "web" and command.strip():
            return _statements(project, "Procfile web", command.strip(), ".", None)
    return []


def _statements(
    project: Path,
    origin: str,
    command: str | list[str],
    workdir: str,
    image: ImageFacts | None,
    depth: int = 0,
) -> list[Statement]:
    """The server calls of one command, or of the start script it runs."""
    found: list[Statement] = []
    for call in server_calls(command):
        root = posixpath.normpath(posixpath.join(workdir, call.cwd or ".", call.app_dir or "."))
        found.append(Statement(origin, call, _roots(project, root, image)))
    if found or depth > 0:
        return found
    script = _script(project, command, workdir, image)
    if script is None:
        return []
    path, text = script
    where = f"{path.relative_to(project).as_posix()}, run by {origin}"
    return _statements(project, where, text, workdir, image, depth + 1)


def _roots(project: Path, folder: str, image: ImageFacts | None) -> tuple[Path, ...]:
    """The project folders a path relative to `folder` (in the image, or in the project)
    can be found in: mapped through the image's COPY lines, then the project folder itself."""
    if image is None:
        local = project / folder if not posixpath.isabs(folder) else project
        return (local,)
    mapped = project_folders(image, folder, project)
    return tuple(dict.fromkeys([*mapped, project]))


def _script(
    project: Path, command: str | list[str], workdir: str, image: ImageFacts | None
) -> tuple[Path, str] | None:
    """A start script of the project the command runs (`./start.sh`, `sh scripts/run.sh`)."""
    argv = command if isinstance(command, list) else command.split()
    for word in argv:
        if not word.endswith(_SCRIPT_SUFFIXES):
            continue
        inside = posixpath.normpath(posixpath.join(workdir, word))
        candidates = [project / folder for folder in _roots(project, workdir, image)]
        candidates = [root / posixpath.relpath(inside, workdir) for root in candidates]
        candidates.append(project / word.lstrip("/"))
        for path in candidates:
            text = _read_small(path, project)
            if text is not None:
                return path, text
    return None


def _read_small(path: Path, project: Path) -> str | None:
    try:
        resolved = path.resolve()
        if not resolved.is_relative_to(project.resolve()) or not resolved.is_file():
            return None
        if resolved.stat().st_size > _MAX_SCRIPT:
            return None
        return resolved.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
