"""Find the model and cache folder the backend's code hard-wires, each with where it was read.

Literals are followed through the project's own imports and names, never into a venv or a
nested project (the forms are in docs/adoption.md). `os.getenv("X", "default")` is X's value
from the environment or `.env` when set, else the default. A relative `cache_dir` is relative to
the project folder, where the server runs.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from loguru import logger

from launcher.discover.files import locate, project_sources
from launcher.discover.source import TOKENS, Interpreter, SourceFacts, read_facts
from launcher.errors import UsageError
from launcher.models.registry import lookup

# Files worth parsing: they load a model, or name one in a setting.
_WANTED = re.compile(rb"TextEmbedding|Document\(|set_model\(|(?i:embed\w*model|model_?name)")
_MODEL_FIELD = re.compile(r"(?i)(embed\w*model|model_?name|^model$)")
MAX_STEPS = 12  # links followed from a name to its literal
_MODEL_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(frozen=True)
class Found:
    """One hard-wired value: the value, `file:line` (relative to the project), and how.
    `loaded` is True for a model a loading call names (not one guessed from a field name)."""

    value: str
    where: str
    how: str
    loaded: bool = False
    env: str | None = field(default=None, compare=False)

    def describe(self, what: str) -> str:
        return f"{what} from {self.where} ({self.how})"


@dataclass
class Hardwired:
    """What the code says. `model`/`cache_dir` are None when it says nothing literal;
    `prefetchable` is the first model fastembed can prefetch (the one adopted), `unprefetchable`
    the models a loading call names that it cannot; `unparsed` lists files read by tokens only
    (no interpreter could parse them)."""

    model: Found | None = None
    cache_dir: Found | None = None
    others: list[Found] = field(default_factory=list)
    unparsed: list[Path] = field(default_factory=list)
    prefetchable: Found | None = None
    unprefetchable: list[Found] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        def one(found: Found | None) -> dict[str, str] | None:
            if found is None:
                return None
            return {"value": found.value, "where": found.where, "how": found.how}

        return {
            "model": one(self.model),
            "cache_dir": one(self.cache_dir),
            "other_models": [one(f) for f in self.others],
            "unparsed": [str(p) for p in self.unparsed],
        }


def _rel(project: Path, path: Path) -> str:
    try:
        return path.relative_to(project).as_posix()
    except ValueError:
        return str(path)


def find_hardwired(
    project: Path, interpreter: Interpreter = None, env: Mapping[str, str] | None = None
) -> Hardwired:
    """Read the project's sources for a literal model and cache_dir (see the module docstring).

    `interpreter` (the backend venv's python) parses what the launcher's Python cannot; `env`
    is the environment the backend will see (default: this process's).
    """
    facts = read_facts(project_sources(project), interpreter, _WANTED)
    reader = _Reader(project, interpreter, facts, env)
    ordered = list(facts.values())
    literals = reader.literal_index(ordered)
    result = Hardwired(unparsed=[f.path for f in ordered if f.parsed_by == TOKENS])
    models: list[Found] = []
    for source in ordered:
        for call in source.embeds:
            model = reader.argument(source, call, "model", literals)
            if model is not None and _MODEL_ID.match(model.value):
                how = f"model of {call['call']}(...)"
                at = f"{_rel(project, source.path)}:{call['line']}"
                how += f" at {at}" if model.where != at else ""
                models.append(_with_how(model, how, loaded=True))
            cache = reader.argument(source, call, "cache", literals)
            if cache is not None and result.cache_dir is None and call["call"] != "Document":
                result.cache_dir = _as_path(
                    project, _with_how(cache, f"cache_dir= of {call['call']}(...)")
                )
    models += _settings_models(literals)
    distinct: dict[str, Found] = {}
    for found in models:
        distinct.setdefault(found.value.lower(), found)
    values = list(distinct.values())
    result.model = values[0] if values else None
    result.others = values[1:]
    for found in values:
        _sort(result, found)
    return result


def _sort(result: Hardwired, found: Found) -> None:
    """Count `found` as a model fastembed can prefetch (the first is adopted) or as one a loading
    call names that it cannot (a sparse model, an LLM in a `*_model_name` field or a custom model
    that is only guessed from a field name is left alone, with a debug note)."""
    try:
        lookup(found.value)
    except UsageError:
        if found.loaded:
            result.unprefetchable.append(found)
        else:
            logger.debug(
                f"{found.value!r} ({found.where}) is not a fastembed text model robo-backend "
                "can prefetch; not adopted"
            )
        return
    result.prefetchable = result.prefetchable or found


class _Reader:
    """Reads one argument of a loading call: a literal, a name followed through the project's
    imports, else a name's literal anywhere in the project; an environment variable first.
    Each file is read once, the ones an import names when it is followed."""

    def __init__(
        self,
        project: Path,
        interpreter: Interpreter,
        known: dict[Path, SourceFacts],
        env: Mapping[str, str] | None,
    ) -> None:
        self.project = project
        self.interpreter = interpreter
        self.known: dict[Path, SourceFacts | None] = dict(known)
        self.env = os.environ if env is None else env
        self._dotenv: dict[str, str | None] | None = None
        self._active: set[tuple[Path, tuple[str, ...]]] = set()

    def literal_index(self, ordered: Iterable[SourceFacts]) -> dict[str, list[Found]]:
        """name → its literal bindings (class-level fields first, then module-level constants)."""
        index: dict[str, list[Found]] = {}
        for source in ordered:
            for item in sorted(source.literals, key=lambda i: i.get("scope") != "class"):
                where = f"{_rel(self.project, source.path)}:{item['line']}"
                how = f"default of {item['name']}"
                found = self.with_env(Found(item["value"], where, how), item.get("env"))
                index.setdefault(item["name"], []).append(found)
        return index

    def argument(
        self, source: SourceFacts, call: dict[str, Any], key: str, literals: dict[str, list[Found]]
    ) -> Found | None:
        where = f"{_rel(self.project, source.path)}:{call['line']}"
        literal = call.get("model" if key == "model" else "cache_dir")
        if literal is not None:
            return self.with_env(Found(literal, where, "literal"), call.get(f"{key}_env"))
        chain = call.get(f"{key}_chain")
        bound = self.follow(source.path, chain) if chain else None
        if bound is not None:
            return self.with_env(bound, bound.env)
        return _resolve(call.get(f"{key}_ref"), literals)

    def with_env(self, found: Found, name: str | None) -> Found:
        """`found` as the backend reads it: `os.getenv(name, default)` is name's value when set
        (the launcher's own ROBO_BACKEND_* variables are settings, not the backend's)."""
        if not name or name.startswith("ROBO_BACKEND_"):
            return found
        if name in self.env:
            return Found(self.env[name], found.where, f"{name} from the environment")
        if self._dotenv is None:
            self._dotenv = {}
            path = self.project / ".env"
            if path.is_file():
                from dotenv import dotenv_values

                with contextlib.suppress(OSError, UnicodeDecodeError, ValueError):
                    self._dotenv = dict(dotenv_values(path, interpolate=False))
        value = self._dotenv.get(name)
        if value is not None:
            return Found(value, found.where, f"{name} from .env")
        return found

    def facts(self, path: Path) -> SourceFacts | None:
        if path not in self.known:
            self.known[path] = read_facts([path], self.interpreter).get(path)
        return self.known[path]

    def locate(self, importer: Path, module: str, level: int) -> Path | None:
        return locate(self.project, importer, module, level)

    def follow(self, path: Path, chain: list[str], steps: int = 0) -> Found | None:
        """The literal `chain` (`["config", "MODEL"]`) is bound to, seen from `path`, followed
        through aliases, imports and `*` imports of the project's own modules; its `env` is
        the variable it is read from first (`os.getenv("X", "default")`)."""
        key = (path, tuple(chain))
        if not chain or steps > MAX_STEPS or key in self._active:
            return None  # too far, or a cycle (`A = B`, `B = A`)
        self._active.add(key)
        try:
            return self._follow(path, chain, steps)
        finally:
            self._active.discard(key)

    def _follow(self, path: Path, chain: list[str], steps: int) -> Found | None:
        facts = self.facts(path)
        if facts is None:
            return None
        item = _literal(facts, chain)
        if item is not None:
            where = f"{_rel(self.project, path)}:{item['line']}"
            return Found(item["value"], where, f"default of {item['name']}", env=item.get("env"))
        head, rest = chain[0], chain[1:]
        alias = facts.aliases.get(head)
        if alias is not None and (rest or not alias.get("instance")):
            found_alias = self.follow(path, [*alias["ref"], *rest], steps + 1)
            if found_alias is not None:
                return found_alias
        imported = facts.imports.get(head)
        if imported is not None:
            found_import = self._through_import(path, imported, rest, steps)
            if found_import is not None:
                return found_import
        for star in facts.star_imports:
            target = self.locate(path, star["module"], star["level"])
            found_star = self.follow(target, chain, steps + 1) if target else None
            if found_star is not None:
                return found_star
        return None

    def _through_import(
        self, path: Path, imported: dict[str, Any], rest: list[str], steps: int
    ) -> Found | None:
        module, name, level = imported["module"], imported["name"], imported["level"]
        if name is None:  # import a.b [as c]: the rest may name submodules first
            target = self.locate(path, module, level)
            while len(rest) > 1 and self.locate(path, f"{module}.{rest[0]}", level):
                module, rest = f"{module}.{rest[0]}", rest[1:]
                target = self.locate(path, module, level)
            return self.follow(target, rest, steps + 1) if target is not None and rest else None
        submodule = self.locate(path, f"{module}.{name}" if module else name, level)
        if submodule is not None:  # from pkg import config
            return self.follow(submodule, rest, steps + 1) if rest else None
        target = self.locate(path, module, level)
        return self.follow(target, [name, *rest], steps + 1) if target is not None else None


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


def _resolve(ref: str | None, literals: dict[str, list[Found]]) -> Found | None:
    if ref is None:
        return None
    candidates = literals.get(ref) or _case_insensitive(literals, ref)
    return candidates[0] if candidates else None


def _case_insensitive(literals: dict[str, list[Found]], ref: str) -> list[Found]:
    """`settings.EMBEDDING_MODEL` refers to a field spelled `embedding_model` (and back)."""
    return next((found for name, found in literals.items() if name.lower() == ref.lower()), [])


def _with_how(found: Found, how: str, *, loaded: bool = False) -> Found:
    if found.how == "literal":
        return Found(found.value, found.where, f"literal {how}", loaded)
    return Found(found.value, found.where, f"{found.how}, the {how}", loaded)


def _as_path(project: Path, found: Found) -> Found:
    """The cache folder as an absolute path: relative ones are relative to the project."""
    path = Path(found.value).expanduser()
    absolute = path if path.is_absolute() else project / path
    return Found(str(absolute), found.where, found.how)


def _settings_models(literals: dict[str, list[Found]]) -> list[Found]:
    """Model ids kept as the default of a settings field named like a model."""
    return [
        found
        for name, bindings in literals.items()
        if _MODEL_FIELD.search(name)
        for found in bindings
        if _MODEL_ID.match(found.value)
    ]
