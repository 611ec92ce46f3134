"""Find the ASGI app to serve (`pkg.service:app`, …) as the project states it, without importing it.

The rules and their order are in docs/adoption.md. A setting or statement is checked (its module
exists and binds the attribute): a statement that fails is reported and the next rule tried; a
setting that fails is an error.
"""

from __future__ import annotations

from pathlib import Path

from loguru import logger

from launcher.discover.cmdline import ServerCall, is_asgi_worker
from launcher.discover.files import is_nested_project, module_file, project_sources
from launcher.discover.source import Interpreter, SourceFacts, read_facts
from launcher.discover.stated import Statement, project_statements
from launcher.discover.target import (
    CANDIDATE_NAMES,
    AppTarget,
    app_name,
    module_name,
    rel,
)
from launcher.errors import ProjectError, SettingsError

__all__ = ["CANDIDATE_FILES", "CANDIDATE_NAMES", "AppTarget", "discover_app", "app_candidates"]

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

_NO_APP = "no module-level app, api or FastAPI()"


def _set_app_hint(candidates: list[str]) -> str:
    """How to name the app: with the first candidate found, never a made-up one."""
    spec = candidates[0] if candidates else "module:attribute"
    which = "one of them" if len(candidates) > 1 else "it"
    return (
        f'Set {which} in pyproject.toml: [tool.robo-backend] app = "{spec}", or pass --app {spec}.'
    )


def discover_app(
    project: Path,
    configured: str | None,
    interpreter: Interpreter = None,
    *,
    source: str | None = None,
) -> AppTarget:
    """The app to serve, in the order of docs/adoption.md; `origin` says which rule found it.

    `interpreter` is the backend venv's python, used for files the launcher cannot parse;
    `source` names where `configured` was set (for `origin`). Raises SettingsError (exit 2)
    when the configured module or attribute does not exist, and ProjectError (exit 2) when
    nothing can be found.
    """
    if configured:
        return _configured(project, configured.strip(), interpreter, source or "the app setting")
    notes: list[str] = []
    for statement in project_statements(project):
        found = _stated(project, statement, interpreter)
        if isinstance(found, AppTarget):
            return _noted(found, notes)
        note = f"{statement.origin} names {statement.call.named}, but {found}: not used"
        logger.warning(note)
        notes.append(note)
    target, looked, facts = _default_files(project, interpreter)
    if target is None:
        target = _only_fastapi_module(project, interpreter, set(looked))
    if target is not None:
        return _noted(target, notes)
    raise _not_found(project, looked, facts, interpreter, notes)


def _noted(target: AppTarget, notes: list[str]) -> AppTarget:
    return AppTarget(
        target.module, target.attr, target.app_dir, target.factory, target.origin, tuple(notes)
    )


def _split(configured: str, hint: str) -> tuple[str, str, list[str]]:
    module, _, attr = configured.partition(":")
    module, attr = module.strip(), attr.strip()
    parts = module.split(".")
    if not module or not all(part.isidentifier() for part in parts):
        raise SettingsError(f"app = {configured!r} is not a module:attribute name", hint)
    if attr and not attr.isidentifier():
        raise SettingsError(f"app = {configured!r}: {attr!r} is not a Python name", hint)
    return module, attr, parts


def _configured(project: Path, configured: str, interpreter: Interpreter, source: str) -> AppTarget:
    def hint() -> str:
        return _set_app_hint(app_candidates(project, interpreter))

    try:
        module, attr, parts = _split(configured, "")
    except SettingsError as exc:
        raise SettingsError(exc.message, hint()) from None
    found = _module_file(project, parts)
    if found is None:
        tried = f"{'/'.join(parts)}.py"
        raise SettingsError(
            f"app = {configured!r}: no module {module!r} in {project} (looked for {tried}, "
            f"{'/'.join(parts)}/__init__.py and the same under src/)",
            "Check the module name (a dotted path from the project folder). " + hint(),
        )
    path, app_dir = found
    facts = read_facts([path], interpreter).get(path)
    chosen = _check_attr(facts, attr)
    if chosen is None:
        if attr:
            raise SettingsError(
                f"app = {configured!r}: {rel(project, path)} defines no module-level {attr!r}",
                f"Use the name your FastAPI() object is assigned to. {hint()}",
            )
        raise SettingsError(
            f"app = {configured!r} names no attribute, and {path.name} has no module-level "
            "'app', 'api' or FastAPI() instance",
            f'Name the attribute: app = "{module}:<name>" in [tool.robo-backend], '
            f"or --app {module}:<name>.",
        )
    return AppTarget(module, chosen, app_dir, origin=source)


def _check_attr(facts: SourceFacts | None, attr: str) -> str | None:
    """The attribute to serve from a module: `attr` when the module binds it (or its names are
    unknowable), the discovered name when `attr` is empty; None when neither works."""
    names = facts.names if facts is not None else None
    if names is None:
        return attr or CANDIDATE_NAMES[0]  # uvicorn will say what is wrong
    if not attr:
        return app_name(facts) if facts is not None else None
    return attr if attr.split(".")[0] in names else None


def _module_file(project: Path, parts: list[str]) -> tuple[Path, Path | None] | None:
    """Where `a.b.c` lives: project/a/b/c.py or …/c/__init__.py, else the same under src/."""
    for root, app_dir in ((project, None), (project / "src", project / "src")):
        path = module_file(root, parts)
        if path is not None:
            return path, app_dir
    return None


def _stated(project: Path, statement: Statement, interpreter: Interpreter) -> AppTarget | str:
    """The app a statement names, or why it cannot be served (for the warning)."""
    call = statement.call
    if call.tool == "gunicorn" and not is_asgi_worker(call.worker):
        return f"its worker class {call.worker} does not serve ASGI apps"
    if call.spec is None:
        return _stated_path(project, statement, call, interpreter)
    module, _, attr = call.spec.partition(":")
    parts = module.split(".")
    for root in statement.roots:
        path = module_file(root, parts)
        if path is None:
            continue
        chosen = _check_attr(read_facts([path], interpreter).get(path), attr)
        if chosen is None:
            return f"{rel(project, path)} defines no module-level {attr!r}"
        app_dir = None if root == project else root
        return AppTarget(module, attr, app_dir, call.factory, statement.origin)
    where = ", ".join(rel(project, root) or "." for root in statement.roots)
    return f"there is no module {module!r} in {where} ({'/'.join(parts)}.py)"


def _stated_path(
    project: Path, statement: Statement, call: ServerCall, interpreter: Interpreter
) -> AppTarget | str:
    """`fastapi run [path] [--app name]`: the file or package given, else fastapi-cli's own."""
    if call.path is None:
        target, _, _ = _default_files(project, interpreter, statement.roots[0], call.attr)
        if target is None:
            return "none of fastapi-cli's default files has an app"
        return AppTarget(target.module, target.attr, target.app_dir, origin=statement.origin)
    for root in statement.roots:
        path = root / call.path
        if path.is_dir():
            path = path / "__init__.py"
        if not path.is_file():
            continue
        chosen = _check_attr(read_facts([path], interpreter).get(path), call.attr or "")
        if chosen is None:
            return f"{rel(project, path)} has no app ({call.attr or _NO_APP})"
        module, app_dir = _importable(project, root, path)
        return AppTarget(module, chosen, app_dir, origin=statement.origin)
    return f"there is no {call.path} in the project"


def _importable(project: Path, root: Path, path: Path) -> tuple[str, Path | None]:
    """`path`'s module name and app dir when the server runs in `root` (a project folder)."""
    module, app_dir = module_name(root, path)
    if app_dir is None and root != project:
        app_dir = root
    return module, app_dir


def _default_files(
    project: Path, interpreter: Interpreter, root: Path | None = None, attr: str | None = None
) -> tuple[AppTarget | None, list[Path], dict[Path, SourceFacts]]:
    """fastapi-cli's default files under `root` (the project): the first with an app, the
    files looked at, and their facts."""
    base = root or project
    existing = [p for p in (base / relative for relative in CANDIDATE_FILES) if p.is_file()]
    facts = read_facts(existing, interpreter)
    for path in existing:
        found = facts.get(path)
        name = _check_attr(found, attr) if attr else (app_name(found) if found else None)
        if name is not None:
            module, app_dir = _importable(project, base, path)
            origin = f"{rel(project, path)}, fastapi-cli's default files"
            return AppTarget(module, name, app_dir, origin=origin), existing, facts
    return None, existing, facts


def _fastapi_modules(
    project: Path, interpreter: Interpreter, looked: set[Path], max_depth: int = 6
) -> list[AppTarget]:
    """The project's other modules that create a `FastAPI()`, as targets."""
    others = [p for p in project_sources(project, max_depth=max_depth) if p not in looked]
    with_app = [p for p in others if b"FastAPI(" in _head(p)]
    facts = read_facts(with_app, interpreter)
    found: list[AppTarget] = []
    for path in with_app:
        fact = facts.get(path)
        if fact is not None and fact.fastapi:
            module, app_dir = module_name(project, path)
            name = app_name(fact) or fact.fastapi[0]
            origin = f"{rel(project, path)}, the one module creating FastAPI()"
            found.append(AppTarget(module, name, app_dir, origin=origin))
    # an app named like one (`app`, `api`) before sub-apps named otherwise (`admin`)
    return sorted(found, key=lambda target: target.attr not in CANDIDATE_NAMES)


def _only_fastapi_module(
    project: Path, interpreter: Interpreter, looked: set[Path]
) -> AppTarget | None:
    found = _fastapi_modules(project, interpreter, looked)
    return found[0] if len(found) == 1 else None


def app_candidates(project: Path, interpreter: Interpreter = None) -> list[str]:
    """Every app the project offers (`module:attr`), for hints: stated ones that check out,
    the default files' app, the modules creating FastAPI()."""
    specs: list[str] = []
    for statement in project_statements(project):
        found = _stated(project, statement, interpreter)
        if isinstance(found, AppTarget):
            specs.append(found.spec)
    target, looked, _ = _default_files(project, interpreter)
    if target is not None:
        specs.append(target.spec)
    specs += [t.spec for t in _fastapi_modules(project, interpreter, set(looked))]
    return list(dict.fromkeys(specs))


def _not_found(
    project: Path,
    looked: list[Path],
    facts: dict[Path, SourceFacts],
    interpreter: Interpreter,
    notes: list[str],
) -> ProjectError:
    """The error naming the files looked at, the statements not used, and the candidates."""
    if looked:
        parts = []
        for path in looked:
            found = facts.get(path)
            why = "unreadable" if found is None or found.names is None else _NO_APP
            if found is not None and found.error and found.names is None:
                why = f"cannot parse: {found.error}"
            parts.append(f"{rel(project, path)} ({why})")
        what = "looked at " + ", ".join(parts)
    else:
        what = f"none of {', '.join(CANDIDATE_FILES)} exists in {project}"
    if notes:
        what += "; " + "; ".join(notes)
    subprojects = _subprojects(project)
    near = [] if subprojects else [t.spec for t in _fastapi_modules(project, interpreter, set())]
    hint = _set_app_hint(near)
    if subprojects:
        sub = subprojects[0]
        hint = f"{sub} holds a backend of its own: add -p {sub} to run it. Otherwise: " + hint
    if near:
        hint = f"Candidates: {', '.join(near[:3])}. " + hint
    return ProjectError(f"could not find the FastAPI app to serve: {what}", hint)


def _subprojects(project: Path) -> list[str]:
    """Folders below `project` that are backend projects of their own (their own project
    files beside a main.py, app.py or api.py), e.g. examples/textbook-backend."""
    found = []
    for pattern in ("*/", "*/*/"):
        for folder in sorted(project.glob(pattern)):
            hidden = any(part.startswith(".") for part in folder.relative_to(project).parts)
            if hidden or not is_nested_project(folder):
                continue
            if any((folder / name).is_file() for name in CANDIDATE_FILES[:3]):
                found.append(rel(project, folder))
    return found


def _head(path: Path, limit: int = 200_000) -> bytes:
    try:
        with path.open("rb") as handle:
            return handle.read(limit)
    except OSError:
        return b""
