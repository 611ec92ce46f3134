"""Which file decides what gets installed: uv.lock, pylock.toml, poetry.lock, requirements…

The order is the one the user's own tool reads: `uv.lock` (as `uv sync --frozen`), `pylock.toml`,
`poetry.lock` (read without poetry), `requirements*.txt` (with the pyproject dependencies), then
the pyproject dependencies alone (`[project]` or poetry's tables).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from launcher.deps.poetry_spec import dependency_lines, is_poetry_project
from launcher.errors import ProjectError
from launcher.settings import read_pyproject

REQUIREMENTS = "requirements.txt"


@dataclass(frozen=True)
class DependencyInputs:
    """The dependency sources of a project: the pyproject list and the requirements files."""

    dependencies: tuple[str, ...]
    requirements: Path | None
    files: tuple[Path, ...]  # every file whose bytes go into the stamp (requirements + includes)
    origin: str = "[project].dependencies"  # the table `dependencies` were read from

    @property
    def empty(self) -> bool:
        return not self.dependencies and self.requirements is None


@dataclass(frozen=True)
class DependencySource:
    """What decides the install: `kind` (uv.lock, pylock.toml, poetry.lock, requirements,
    pyproject, none), the lock file honoured, the pyproject/requirements inputs, and a warning
    when a lock is present but cannot be honoured here."""

    kind: str
    lock: Path | None
    inputs: DependencyInputs
    warning: str = ""

    @property
    def empty(self) -> bool:
        return self.kind == "none"

    @property
    def files(self) -> tuple[Path, ...]:
        """Every file whose bytes decide the install (they go into the stamp)."""
        return ((self.lock,) if self.lock else ()) + self.inputs.files

    @property
    def label(self) -> str:
        """For `doctor` and `up`: where the versions come from, in a few words."""
        return {
            "uv.lock": "uv.lock (the locked versions, uv sync)",
            "pylock.toml": f"{self.lock.name if self.lock else 'pylock.toml'} (PEP 751 lock)",
            "poetry.lock": "poetry.lock (the locked versions, read without poetry)",
            "requirements": f"{_name(self.inputs.requirements)} + {self.inputs.origin}",
            "pyproject": f"{self.inputs.origin} of pyproject.toml",
        }.get(self.kind, "nothing to install")


def _name(path: Path | None) -> str:
    return path.name if path else REQUIREMENTS


def read_inputs(project: Path) -> DependencyInputs:
    """Collect the pyproject dependencies and requirements.txt (plus files it includes).

    The pyproject dependencies are `[project].dependencies`, or for a poetry project what
    `poetry install` installs: its main group (`[tool.poetry.dependencies]`, or
    `[project].dependencies` in poetry 2's layout) and every group not marked optional.
    """
    dependencies: tuple[str, ...] = ()
    origin = "[project].dependencies"
    pyproject = project / "pyproject.toml"
    if pyproject.is_file():
        data = read_pyproject(project)
        raw = data.get("project", {}).get("dependencies", [])
        if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
            raise ProjectError(
                f"[project].dependencies in {pyproject} is not a list of strings",
                'Write it as dependencies = ["fastapi>=0.110", "uvicorn>=0.29"].',
            )
        dependencies = tuple(item.strip() for item in raw if item.strip())
        if is_poetry_project(data):
            dependencies = tuple(_poetry_lines(data, project, pyproject))
            origin = "[tool.poetry.dependencies]" if not raw else "[project].dependencies + groups"
    requirements = _first(project, REQUIREMENTS, "requirements*.txt")
    if requirements is None:
        return DependencyInputs(dependencies, None, (), origin)
    files = tuple(_requirement_files(requirements))
    return DependencyInputs(dependencies, requirements, files, origin)


def _poetry_lines(data: dict[str, object], project: Path, pyproject: Path) -> list[str]:
    try:
        return dependency_lines(data, project)
    except ValueError as exc:
        raise ProjectError(
            f"[tool.poetry.dependencies] in {pyproject}: {exc}",
            'Write versions as poetry does: "^1.2", "~1.2.3", ">=1,<2", "1.2.*" or "*".',
        ) from None


def _first(project: Path, name: str, pattern: str) -> Path | None:
    """`name` in the project, else the first file matching `pattern` by name."""
    if (project / name).is_file():
        return project / name
    found = sorted(p for p in project.glob(pattern) if p.is_file())
    return found[0] if found else None


_INCLUDE = re.compile(r"^\s*(?:-r|-c|--requirement|--constraint)(?:\s*=\s*|\s+)(\S+)")


def _requirement_files(first: Path) -> list[Path]:
    """requirements.txt and the files it pulls in with -r/-c (recursively, each once)."""
    seen: list[Path] = []
    pending = [first]
    while pending:
        path = pending.pop()
        if path in seen or not path.is_file():
            continue
        seen.append(path)
        try:
            text = path.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        for line in text.splitlines():
            match = _INCLUDE.match(line)
            if match and "://" not in match.group(1):
                pending.append((path.parent / match.group(1)).resolve())
    return seen


def decision_files(project: Path) -> list[Path]:
    """Every file `find_source` and the dependency stamp read for `project`, absent ones too
    (one that appears changes the decision): the pyproject, each lock it looks for, and the
    requirements files with those they include."""
    requirements = _first(project, REQUIREMENTS, "requirements*.txt")
    files = [
        project / "pyproject.toml",
        project / "uv.lock",
        project / "pylock.toml",
        *sorted(project.glob("pylock.*.toml")),
        project / "poetry.lock",
        project / REQUIREMENTS,
        *sorted(project.glob("requirements*.txt")),
        *(_requirement_files(requirements) if requirements is not None else []),
    ]
    return list(dict.fromkeys(files))


def detect_source(project: Path, env: Mapping[str, str] | None = None) -> DependencySource:
    """The source `up` would use with the environment `env` (default: this process's)."""
    from launcher.platform import PlatformFacts, find_uv

    facts = PlatformFacts.local(os.environ if env is None else env)
    return find_source(project, uv=find_uv(facts) is not None)


def find_source(project: Path, *, uv: bool) -> DependencySource:
    """The source that decides the install here; `uv`: can uv run (uv.lock and pylock.toml
    need it; poetry.lock needs no poetry, uv or pip installs what it pins)."""
    inputs = read_inputs(project)
    skipped: list[str] = []
    if (project / "uv.lock").is_file():
        if uv:
            return DependencySource("uv.lock", project / "uv.lock", inputs)
        skipped.append("uv.lock (uv cannot run here)")
    pylock = _first(project, "pylock.toml", "pylock.*.toml")  # a named one: PEP 751
    if pylock is not None:
        if uv:
            return DependencySource("pylock.toml", pylock, inputs)
        skipped.append(f"{pylock.name} (uv cannot run here)")
    if (project / "poetry.lock").is_file():
        chosen = DependencySource("poetry.lock", project / "poetry.lock", inputs)
    elif inputs.requirements is not None:
        chosen = DependencySource("requirements", None, inputs)
    elif inputs.dependencies:
        chosen = DependencySource("pyproject", None, inputs)
    else:
        chosen = DependencySource("none", None, inputs)
    if not skipped:
        return chosen
    warning = (
        f"{', '.join(skipped)} is not honoured: installing from {chosen.label} instead, so "
        "versions may differ from the lock"
    )
    return DependencySource(chosen.kind, chosen.lock, inputs, warning)
