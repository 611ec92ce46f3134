"""The app to serve (`AppTarget`): module, attribute and folder, and how a module names its app."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from launcher.discover.source import SourceFacts

CANDIDATE_NAMES: tuple[str, ...] = ("app", "api")


@dataclass(frozen=True)
class AppTarget:
    """What uvicorn should import: `module:attr`, and the folder to import it from.

    `app_dir` is None when the module is importable from the project folder itself (uvicorn's
    default `--app-dir .` with the project as working directory), else e.g. `<project>/src`.
    `factory` is uvicorn's `--factory` (the attribute builds the app). `origin` says where the
    app came from ("Dockerfile CMD", "main.py, fastapi-cli's default files"); `notes` are the
    statements of the project that were not used, each with why.
    """

    module: str
    attr: str
    app_dir: Path | None = None
    factory: bool = False
    origin: str = field(default="", compare=False)
    notes: tuple[str, ...] = field(default=(), compare=False)

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.attr}"

    @property
    def described(self) -> str:
        """`pkg.service:app (from Dockerfile CMD)`, for `-v` and doctor."""
        return f"{self.spec} (from {self.origin})" if self.origin else self.spec

    def uvicorn_args(self) -> list[str]:
        """The uvicorn arguments naming the app: `["main:app"]` or `[..., "--app-dir", dir]`."""
        args = [self.spec]
        if self.app_dir is not None:
            args += ["--app-dir", str(self.app_dir)]
        if self.factory:
            args.append("--factory")
        return args


def app_name(facts: SourceFacts) -> str | None:
    """`app`, then `api`, then the first name assigned a FastAPI() instance."""
    if facts.names is None:
        return None
    for name in CANDIDATE_NAMES:
        if name in facts.names:
            return name
    return facts.fastapi[0] if facts.fastapi else None


def module_name(project: Path, path: Path) -> tuple[str, Path | None]:
    """The import name of `path` and the app dir, walking up packages like fastapi-cli.

    src/main.py without src/__init__.py is module `main` imported from `src/`; with it, the
    module is `src.main` imported from the project. app/main.py is `app.main` (a package or a
    namespace package), imported from the project.
    """
    if path.name == "__init__.py":
        path = path.parent
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


def rel(project: Path, path: Path) -> str:
    try:
        return path.relative_to(project).as_posix()
    except ValueError:
        return str(path)
