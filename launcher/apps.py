"""Find the ASGI app to serve (`main:app`, …) the way fastapi-cli does, without importing it.

Importing the backend would need the backend's venv (FastAPI, fastembed, …), which the launcher
does not run in, so discovery reads the source with `ast` instead: a module-level name `app`
(then `api`) in the first of main.py, app.py, api.py, src/main.py, app/main.py.
A configured `app = "module:attr"` always wins; it is only checked for existence.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from launcher.errors import ProjectError, SettingsError

# (file relative to the project, in fastapi-cli's order)
CANDIDATE_FILES: tuple[str, ...] = ("main.py", "app.py", "api.py", "src/main.py", "app/main.py")
CANDIDATE_NAMES: tuple[str, ...] = ("app", "api")

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


def discover_app(project: Path, configured: str | None) -> AppTarget:
    """The app to serve: the configured `module[:attr]`, else the first fastapi-cli candidate.

    Raises SettingsError (exit 2) when the configured module or attribute does not exist, and
    ProjectError (exit 2) when nothing can be discovered.
    """
    if configured:
        return _configured(project, configured.strip())
    return _discover(project)


def _configured(project: Path, configured: str) -> AppTarget:
    module, _, attr = configured.partition(":")
    module = module.strip()
    attr = attr.strip()
    parts = module.split(".")
    if not module or not all(part.isidentifier() for part in parts):
        raise SettingsError(
            f"app = {configured!r} is not a module:attribute name",
            _SET_APP_HINT,
        )
    if attr and not attr.isidentifier():
        raise SettingsError(f"app = {configured!r}: {attr!r} is not a Python name", _SET_APP_HINT)
    found = _module_file(project, parts)
    if found is None:
        tried = f"{'/'.join(parts)}.py"
        raise SettingsError(
            f"app = {configured!r}: no module {module!r} in {project} (looked for {tried}, "
            f"{'/'.join(parts)}/__init__.py and the same under src/)",
            "Check the module name (a dotted path from the project folder). " + _SET_APP_HINT,
        )
    path, app_dir = found
    names = _module_level_names(path)
    if not attr and names is None:
        attr = CANDIDATE_NAMES[0]  # cannot read the file: uvicorn will report what is wrong
    if not attr:
        chosen = next((n for n in CANDIDATE_NAMES if names is not None and n in names), None)
        if chosen is None:
            raise SettingsError(
                f"app = {configured!r} names no attribute, and {path.name} has no module-level "
                "'app' or 'api'",
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


def _discover(project: Path) -> AppTarget:
    looked: list[str] = []
    for relative in CANDIDATE_FILES:
        path = project / relative
        if not path.is_file():
            continue
        names = _module_level_names(path)
        looked.append(relative)
        if names is None:
            continue
        for name in CANDIDATE_NAMES:
            if name in names:
                module, app_dir = _module_name(project, path)
                return AppTarget(module, name, app_dir)
    if looked:
        what = f"none of {', '.join(looked)} has a module-level 'app' or 'api'"
    else:
        what = f"no {', '.join(CANDIDATE_FILES)} in {project}"
    raise ProjectError(f"could not find the FastAPI app to serve: {what}", _SET_APP_HINT)


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
    if folder.name == "app" and folder.parent == project:
        # Namespace package: importable from the project as app.main without __init__.py.
        return ".".join([folder.name, *parts]), None
    return ".".join(parts), folder


def _module_level_names(path: Path) -> set[str] | None:
    """Names bound at module level (assignments, imports, defs), or None when unknowable.

    None means "cannot tell" (a syntax error or `from x import *`): the caller then trusts the
    configuration and lets uvicorn report the real import error.
    """
    try:
        tree = ast.parse(path.read_bytes(), filename=str(path))
    except (SyntaxError, ValueError, OSError):
        return None
    names: set[str] = set()
    star = False

    def add_target(target: ast.expr) -> None:
        if isinstance(target, ast.Name):
            names.add(target.id)
        elif isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                add_target(element)
        elif isinstance(target, ast.Starred):
            add_target(target.value)

    def visit(body: list[ast.stmt]) -> None:
        nonlocal star
        for node in body:
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    add_target(target)
            elif isinstance(node, (ast.AnnAssign, ast.AugAssign)):
                add_target(node.target)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(node.name)
            elif isinstance(node, (ast.Import, ast.ImportFrom)):
                for alias in node.names:
                    if alias.name == "*":
                        star = True
                    else:
                        names.add(alias.asname or alias.name.split(".")[0])
            elif isinstance(node, (ast.For, ast.AsyncFor)):
                add_target(node.target)
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, (ast.With, ast.AsyncWith)):
                for item in node.items:
                    if item.optional_vars is not None:
                        add_target(item.optional_vars)
                visit(node.body)
            elif isinstance(node, (ast.If, ast.While)):
                visit(node.body)
                visit(node.orelse)
            elif isinstance(node, ast.Try) or type(node).__name__ == "TryStar":
                visit(node.body)  # type: ignore[attr-defined]
                for handler in node.handlers:  # type: ignore[attr-defined]
                    visit(handler.body)
                visit(node.orelse)  # type: ignore[attr-defined]
                visit(node.finalbody)  # type: ignore[attr-defined]
            elif isinstance(node, ast.Expr) and isinstance(node.value, ast.NamedExpr):
                add_target(node.value.target)

    visit(tree.body)
    return None if star else names


def _rel(project: Path, path: Path) -> str:
    try:
        return path.relative_to(project).as_posix()
    except ValueError:
        return str(path)
