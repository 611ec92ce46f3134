"""Follow a name the backend's code uses to the literal it is bound to, through its own imports.

`TextEmbedding(model_name=NEURAL_ENCODER)` with `from config import NEURAL_ENCODER`, `from
.settings import MODEL`, `import config` + `config.MODEL`, `settings.model` with `settings =
Settings()` and a class default, `MODEL = other.MODEL`, `from defaults import *`: each step is
read from the files' facts (`scan.py`), never imported. Only the project's own modules are
followed (`files.belongs`: no venv, no site-packages, no nested project).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.discover.files import belongs
from launcher.discover.source import Interpreter, SourceFacts, read_facts
from launcher.discover.target import module_file

MAX_STEPS = 12


@dataclass(frozen=True)
class Bound:
    """The literal a name is bound to: its value, file, line, the name, and the environment
    variable it is read from first (`os.getenv("X", "default")`), if any."""

    value: str
    path: Path
    line: int
    name: str
    env: str | None = None


class ProjectModules:
    """The project's modules, read on demand (each file once)."""

    def __init__(
        self, project: Path, interpreter: Interpreter, known: dict[Path, SourceFacts]
    ) -> None:
        self.project = project
        self.interpreter = interpreter
        self.known: dict[Path, SourceFacts | None] = dict(known)
        self._active: set[tuple[Path, tuple[str, ...]]] = set()

    def facts(self, path: Path) -> SourceFacts | None:
        if path not in self.known:
            self.known[path] = read_facts([path], self.interpreter).get(path)
        return self.known[path]

    def locate(self, importer: Path, module: str, level: int) -> Path | None:
        """The project file `module` names when imported from `importer` (None: not ours)."""
        parts = [part for part in module.split(".") if part]
        if level > 0:
            base = importer.parent
            for _ in range(level - 1):
                base = base.parent
            roots = [base]
        else:
            roots = [self.project, self.project / "src", _import_root(self.project, importer)]
            roots.append(importer.parent)
        for root in dict.fromkeys(roots):
            path = module_file(root, parts) if parts else root / "__init__.py"
            if path is not None and path.is_file() and belongs(self.project, path):
                return path
        return None

    def resolve(self, path: Path, chain: list[str], steps: int = 0) -> Bound | None:
        """The literal `chain` (`["config", "MODEL"]`) is bound to, seen from `path`."""
        key = (path, tuple(chain))
        if not chain or steps > MAX_STEPS or key in self._active:
            return None  # too far, or a cycle (`A = B`, `B = A`)
        self._active.add(key)
        try:
            return self._resolve(path, chain, steps)
        finally:
            self._active.discard(key)

    def _resolve(self, path: Path, chain: list[str], steps: int) -> Bound | None:
        facts = self.facts(path)
        if facts is None:
            return None
        found = _literal(facts, chain)
        if found is not None:
            return Bound(found["value"], path, found["line"], found["name"], found.get("env"))
        head, rest = chain[0], chain[1:]
        alias = facts.aliases.get(head)
        if alias is not None and (rest or not alias.get("instance")):
            found_alias = self.resolve(path, [*alias["ref"], *rest], steps + 1)
            if found_alias is not None:
                return found_alias
        imported = facts.imports.get(head)
        if imported is not None:
            found_import = self._through_import(path, imported, rest, steps)
            if found_import is not None:
                return found_import
        for star in facts.star_imports:
            target = self.locate(path, star["module"], star["level"])
            found_star = self.resolve(target, chain, steps + 1) if target else None
            if found_star is not None:
                return found_star
        return None

    def _through_import(
        self, path: Path, imported: dict[str, Any], rest: list[str], steps: int
    ) -> Bound | None:
        module, name, level = imported["module"], imported["name"], imported["level"]
        if name is None:  # import a.b [as c]: the rest may name submodules first
            target = self.locate(path, module, level)
            while len(rest) > 1 and self.locate(path, f"{module}.{rest[0]}", level) is not None:
                module, rest = f"{module}.{rest[0]}", rest[1:]
                target = self.locate(path, module, level)
            return self.resolve(target, rest, steps + 1) if target is not None and rest else None
        submodule = self.locate(path, f"{module}.{name}" if module else name, level)
        if submodule is not None:  # from pkg import config
            return self.resolve(submodule, rest, steps + 1) if rest else None
        target = self.locate(path, module, level)
        return self.resolve(target, [name, *rest], steps + 1) if target is not None else None


def _literal(facts: SourceFacts, chain: list[str]) -> dict[str, Any] | None:
    """A module-level literal (`MODEL`) or a class default (`Settings.embedding_model`)."""
    if len(chain) == 1:
        scope, owner, name = "module", None, chain[0]
    elif len(chain) == 2:
        scope, owner, name = "class", chain[0], chain[1]
    else:
        return None
    for item in facts.literals:
        if item["name"] == name and item.get("scope") == scope and item.get("class") == owner:
            return item
    return None


def _import_root(project: Path, path: Path) -> Path:
    """The folder `path`'s top package sits in (where its absolute imports start)."""
    folder = path.parent
    while folder != project and (folder / "__init__.py").is_file():
        folder = folder.parent
    return folder
