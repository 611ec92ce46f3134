"""Find the model and cache folder the backend's code hard-wires, each with where it was read.

Backends written without robo-backend in mind call `TextEmbedding(model_name=..., cache_dir=
"./cache/models")` (which ignores FASTEMBED_CACHE_PATH), pass `model="BAAI/..."` to
qdrant-client's `models.Document(...)`, or keep the model name as the default of a settings
field (`embedding_model: str = "BAAI/bge-small-en-v1.5"`). This module reads those literals from
the source, without importing it, following a name through the project's own imports
(`imports.py`: `from config import NEURAL_ENCODER`). A value read with `os.getenv("X", "default")`
is X's value when X is set in the environment or the project's `.env`, else the default.
A relative `cache_dir` is relative to the folder the server runs in, which is the project folder.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher.discover.files import project_sources
from launcher.discover.imports import ProjectModules
from launcher.discover.source import TOKENS, Interpreter, SourceFacts, read_facts

# Files worth parsing: they load a model, or name one in a setting.
_EMBED_BYTES = (b"TextEmbedding", b"Document(", b"set_model(")
_MODEL_FIELD = re.compile(r"(?i)(embed\w*model|model_?name|^model$)")
_MODEL_FIELD_BYTES = re.compile(rb"(?i)embed\w*model|model_?name")
_MODEL_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(frozen=True)
class Found:
    """One hard-wired value: the value, `file:line` (relative to the project), and how.
    `loaded` is True for a model a loading call names (not one guessed from a field name)."""

    value: str
    where: str
    how: str
    loaded: bool = False

    def describe(self, what: str) -> str:
        return f"{what} from {self.where} ({self.how})"


@dataclass
class Hardwired:
    """What the code says. `model`/`cache_dir` are None when it says nothing literal;
    `unparsed` lists files read by tokens only (no interpreter could parse them)."""

    model: Found | None = None
    cache_dir: Found | None = None
    others: list[Found] = field(default_factory=list)
    unparsed: list[Path] = field(default_factory=list)

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


def _wanted(path: Path) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    return any(marker in data for marker in _EMBED_BYTES) or bool(_MODEL_FIELD_BYTES.search(data))


def find_hardwired(
    project: Path, interpreter: Interpreter = None, env: Mapping[str, str] | None = None
) -> Hardwired:
    """Read the project's sources for a literal model and cache_dir (see the module docstring).

    `interpreter` (the backend venv's python) parses what the launcher's Python cannot; `env`
    is the environment the backend will see (default: this process's).
    """
    paths = [p for p in project_sources(project) if _wanted(p)]
    facts = read_facts(paths, interpreter)
    ordered = [facts[p] for p in paths if p in facts]
    reader = _Reader(project, ProjectModules(project, interpreter, facts), env)
    literals = _literal_index(reader, ordered)
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
    return result


class _Reader:
    """Reads one argument of a loading call: a literal, a name followed through the project's
    imports, else a name's literal anywhere in the project; an environment variable first."""

    def __init__(
        self, project: Path, modules: ProjectModules, env: Mapping[str, str] | None
    ) -> None:
        self.project = project
        self.modules = modules
        self.env = os.environ if env is None else env
        self._dotenv: dict[str, str | None] | None = None

    def argument(
        self, source: SourceFacts, call: dict[str, Any], key: str, literals: dict[str, list[Found]]
    ) -> Found | None:
        where = f"{_rel(self.project, source.path)}:{call['line']}"
        literal = call.get("model" if key == "model" else "cache_dir")
        if literal is not None:
            return self.with_env(Found(literal, where, "literal"), call.get(f"{key}_env"))
        chain = call.get(f"{key}_chain")
        bound = self.modules.resolve(source.path, chain) if chain else None
        if bound is not None:
            found = Found(
                bound.value,
                f"{_rel(self.project, bound.path)}:{bound.line}",
                f"default of {bound.name}",
            )
            return self.with_env(found, bound.env)
        return _resolve(call.get(f"{key}_ref"), literals)

    def with_env(self, found: Found, name: str | None) -> Found:
        """`found` as the backend reads it: `os.getenv(name, default)` is name's value when set
        (the launcher's own ROBO_BACKEND_* variables are settings, not the backend's)."""
        if not name or name.startswith("ROBO_BACKEND_"):
            return found
        if name in self.env:
            return Found(self.env[name], found.where, f"{name} from the environment")
        value = self.dotenv().get(name)
        if value is not None:
            return Found(value, found.where, f"{name} from .env")
        return found

    def dotenv(self) -> dict[str, str | None]:
        if self._dotenv is None:
            self._dotenv = {}
            path = self.project / ".env"
            if path.is_file():
                from dotenv import dotenv_values

                with contextlib.suppress(OSError, UnicodeDecodeError, ValueError):
                    self._dotenv = dict(dotenv_values(path, interpolate=False))
        return self._dotenv


def _literal_index(reader: _Reader, ordered: Iterable[SourceFacts]) -> dict[str, list[Found]]:
    """name → its literal bindings (class-level fields first, then module-level constants)."""
    index: dict[str, list[Found]] = {}
    for source in ordered:
        for item in sorted(source.literals, key=lambda i: i.get("scope") != "class"):
            where = f"{_rel(reader.project, source.path)}:{item['line']}"
            how = f"default of {item['name']}"
            found = reader.with_env(Found(item["value"], where, how), item.get("env"))
            index.setdefault(item["name"], []).append(found)
    return index


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
