"""Find the ASGI app to serve (`main:app`, …) by fastapi-cli's rules, without importing it.

Importing the backend would need the backend's venv (FastAPI, fastembed, …), so discovery reads
the source instead (see `source.py`, which falls back to the backend's own interpreter for newer
syntax): the first of main.py, app.py, api.py, app/main.py, app/app.py, app/api.py, then the
same under src/, that binds a module-level `app`, else `api`, else any name assigned `FastAPI()`.
A configured `app = "module:attr"` always wins; it is only checked for existence.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from pathlib import Path

from launcher.discover.files import project_sources
from launcher.discover.source import Interpreter, SourceFacts, read_facts
from launcher.errors import ProjectError, SettingsError

# (files relative to the project, in fastapi-cli's order; then the src/ layout)
CANDIDATE_FILES: tuple[str, ...] = (
    "main.py",
    "app.py",
    "api.py",
    "app/main.py",
    "app/app.py",
    "app/api.py",
    "src/main.py",
    "src/app.py",
    "src/api.py",
    "src/app/main.py",
)
CANDIDATE_NAMES: tuple[str, ...] = ("app", "api")

_NO_APP = "no module-level app, api or FastAPI()"
_SET_APP_HINT = (
    'Set it in pyproject.toml: [tool.robo-backend] app = "main:app" '
    "(module:attribute), or pass --app main:app."
)


@dataclass(frozen=True)
class AppTarget:
    """What uvicorn should import: `module:attr`, and the folder to import it from.

    `app_dir` is None when the module is importable from the project folder itself (uvicorn's
    default `--app-dir .` with the project as working directory), else e.g. `<project>/src`.
    """

    module: str
    attr: str
    app_dir: Path | None = None

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.attr}"

    def uvicorn_args(self) -> list[str]:
        """The uvicorn arguments naming the app: `["main:app"]` or `[..., "--app-dir", dir]`."""
        args = [self.spec]
        if self.app_dir is not None:
            args += ["--app-dir", str(self.app_dir)]
        return args


def discover_app(
    project: Path, configured: str | None, interpreter: Interpreter = None
) -> AppTarget:
    """The app to serve: the configured `module[:attr]`, else the first fastapi-cli candidate.

    `interpreter` is the backend venv's python, used for files the launcher cannot parse.
    Raises SettingsError (exit 2) when the configured module or attribute does not exist, and
    ProjectError (exit 2) when nothing can be discovered.
    """
    if configured:
        return _configured(project, configured.strip(), interpreter)
    return _discover(project, interpreter)


def _app_name(facts: SourceFacts) -> str | None:
    """`app`, then `api`, then the first name assigned a FastAPI() instance."""
    if facts.names is None:
        return None
    for name in CANDIDATE_NAMES:
        if name in facts.names:
            return name
    return facts.fastapi[0] if facts.fastapi else None


def _split(configured: str) -> tuple[str, str, list[str]]:
    module, _, attr = configured.partition(":")
    module, attr = module.strip(), attr.strip()
    parts = module.split(".")
    if not module or not all(part.isidentifier() for part in parts):
        raise SettingsError(
            f"app = {configured!r} is not a module:attribute name",
            _SET_APP_HINT,
        )
    if attr and not attr.isidentifier():
        raise SettingsError(f"app = {configured!r}: {attr!r} is not a Python name", _SET_APP_HINT)
    return module, attr, parts


def _configured(project: Path, configured: str, interpreter: Interpreter) -> AppTarget:
    module, attr, parts = _split(configured)
    found = _module_file(project, parts)
    if found is None:
        tried = f"{'/'.join(parts)}.py"
        raise SettingsError(
            f"app = {configured!r}: no module {module!r} in {project} (looked for {tried}, "
            f"{'/'.join(parts)}/__init__.py and the same under src/)",
            "Check the module name (a dotted path from the project folder). " + _SET_APP_HINT,
        )
    path, app_dir = found
    facts = read_facts([path], interpreter).get(path)
    names = facts.names if facts is not None else None
    if not attr and (facts is None or names is None):
        return AppTarget(module, CANDIDATE_NAMES[0], app_dir)  # uvicorn will say what is wrong
    if not attr:
        chosen = _app_name(facts) if facts is not None else None
        if chosen is None:
            raise SettingsError(
                f"app = {configured!r} names no attribute, and {path.name} has no module-level "
                "'app', 'api' or FastAPI() instance",
                f'Name the attribute: app = "{module}:<name>" in [tool.robo-backend], '
                f"or --app {module}:<name>.",
            )
        attr = chosen
    elif names is not None and attr not in names:
        raise SettingsError(
            f"app = {configured!r}: {_rel(project, path)} defines no module-level {attr!r}",
            f"Use the name your FastAPI() object is assigned to, e.g. {module}:app.",
        )
    return AppTarget(module, attr, app_dir)


def _module_file(project: Path, parts: list[str]) -> tuple[Path, Path | None] | None:
    """Where `a.b.c` lives: project/a/b/c.py or …/c/__init__.py, else the same under src/."""
    for root, app_dir in ((project, None), (project / "src", project / "src")):
        base = root.joinpath(*parts)
        for path in (base.with_suffix(".py"), base / "__init__.py"):
            if path.is_file():
                return path, app_dir
    return None


def _discover(project: Path, interpreter: Interpreter) -> AppTarget:
    paths = [project / relative for relative in CANDIDATE_FILES]
    existing = [path for path in paths if path.is_file()]
    facts = read_facts(existing, interpreter)
    for path in existing:
        found = facts.get(path)
        name = _app_name(found) if found is not None else None
        if name is not None:
            module, app_dir = _module_name(project, path)
            return AppTarget(module, name, app_dir)
    raise _not_found(project, existing, facts, interpreter)


def _not_found(
    project: Path,
    looked: list[Path],
    facts: dict[Path, SourceFacts],
    interpreter: Interpreter,
) -> ProjectError:
    """The error naming the files looked at and the closest candidates elsewhere."""
    if looked:
        parts = []
        for path in looked:
            found = facts.get(path)
            why = "unreadable" if found is None or found.names is None else _NO_APP
            if found is not None and found.error and found.names is None:
                why = f"cannot parse: {found.error}"
            parts.append(f"{_rel(project, path)} ({why})")
        what = "looked at " + ", ".join(parts)
    else:
        what = f"none of {', '.join(CANDIDATE_FILES)} exists in {project}"
    subprojects = _subprojects(project)
    near = [] if subprojects else _closest(project, interpreter, set(looked))
    hint = _SET_APP_HINT
    if subprojects:
        sub = subprojects[0]
        hint = f"{sub} holds a backend of its own: add -p {sub} to run it. Otherwise: " + hint
    if near:
        hint = f"Closest candidates: {', '.join(near)}. " + hint
    return ProjectError(f"could not find the FastAPI app to serve: {what}", hint)


def _subprojects(project: Path) -> list[str]:
    """Folders below `project` that are backend projects of their own (a pyproject.toml beside
    a main.py, app.py or api.py), e.g. examples/textbook-backend from a repository's root."""
    found = []
    for pattern in ("*/pyproject.toml", "*/*/pyproject.toml"):
        for pyproject in sorted(project.glob(pattern)):
            folder = pyproject.parent
            hidden = any(part.startswith(".") for part in folder.relative_to(project).parts)
            if not hidden and any((folder / name).is_file() for name in CANDIDATE_FILES[:3]):
                found.append(_rel(project, folder))
    return found


def _closest(project: Path, interpreter: Interpreter, looked: set[Path]) -> list[str]:
    """Other project files creating a FastAPI() (as module:attr), else the nearest file names."""
    others = [p for p in project_sources(project, max_depth=3) if p not in looked]
    with_app = [p for p in others if b"FastAPI(" in _head(p)]
    facts = read_facts(with_app, interpreter)
    specs: list[str] = []
    for path in with_app:
        found = facts.get(path)
        if found is not None and found.fastapi:
            module, _ = _module_name(project, path)
            specs.append(f"{module}:{found.fastapi[0]}")
    if specs:
        return specs[:3]
    names = [_rel(project, p) for p in others]
    return difflib.get_close_matches("main.py", names, n=3, cutoff=0.5)


def _head(path: Path, limit: int = 200_000) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except OSError:
        return b""


def _module_name(project: Path, path: Path) -> tuple[str, Path | None]:
    """The import name of `path` and the app dir, walking up packages like fastapi-cli.

    src/main.py without src/__init__.py is module `main` imported from `src/`; with it, the
    module is `src.main` imported from the project. app/main.py is `app.main` (a package or a
    namespace package), imported from the project.
    """
    parts = [path.stem]
    folder = path.parent
    while folder != project and (folder / "__init__.py").is_file():
        parts.insert(0, folder.name)
        folder = folder.parent
    if folder == project:
        return ".".join(parts), None
    if folder.parent == project and folder.name != "src":
        # Namespace package (app/main.py without __init__.py): importable from the project.
        return ".".join([folder.name, *parts]), None
    return ".".join(parts), folder


def _rel(project: Path, path: Path) -> str:
    try:
        return path.relative_to(project).as_posix()
    except ValueError:
        return str(path)
