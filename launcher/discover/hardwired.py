"""Find the model and cache folder the backend's code hard-wires, each with where it was read.

Backends written without robo-backend in mind call `TextEmbedding(model_name=..., cache_dir=
"./cache/models")` (which ignores FASTEMBED_CACHE_PATH), pass `model="BAAI/..."` to
qdrant-client's `models.Document(...)`, or keep the model name as the default of a settings
field (`embedding_model: str = "BAAI/bge-small-en-v1.5"`). This module reads those literals from
the source, without importing it. A relative `cache_dir` is relative to the folder the server
runs in, which is the project folder.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from launcher.discover.files import project_sources
from launcher.discover.source import TOKENS, Interpreter, SourceFacts, read_facts

# Files worth parsing: they load a model, or name one in a setting.
_EMBED_BYTES = (b"TextEmbedding", b"Document(", b"set_model(")
_MODEL_FIELD = re.compile(r"(?i)(embed\w*model|model_?name|^model$)")
_MODEL_FIELD_BYTES = re.compile(rb"(?i)embed\w*model|model_?name")
_MODEL_ID = re.compile(r"^[\w.-]+/[\w.-]+$")


@dataclass(frozen=True)
class Found:
    """One hard-wired value: the value, `file:line` (relative to the project), and how."""

    value: str
    where: str
    how: str

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


def find_hardwired(project: Path, interpreter: Interpreter = None) -> Hardwired:
    """Read the project's sources for a literal model and cache_dir (see the module docstring).

    `interpreter` (the backend venv's python) parses what the launcher's Python cannot.
    """
    paths = [p for p in project_sources(project) if _wanted(p)]
    facts = read_facts(paths, interpreter)
    ordered = [facts[p] for p in paths if p in facts]
    literals = _literal_index(project, ordered)
    result = Hardwired(unparsed=[f.path for f in ordered if f.parsed_by == TOKENS])
    models: list[Found] = []
    for source in ordered:
        for call in source.embeds:
            where = f"{_rel(project, source.path)}:{call['line']}"
            model = _resolve(call.get("model"), call.get("model_ref"), literals, where)
            if model is not None and _MODEL_ID.match(model.value):
                models.append(_with_how(model, f"model of {call['call']}(...)"))
            cache = _resolve(call.get("cache_dir"), call.get("cache_ref"), literals, where)
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


def _literal_index(project: Path, ordered: Iterable[SourceFacts]) -> dict[str, list[Found]]:
    """name → its literal bindings (class-level fields first, then module-level constants)."""
    index: dict[str, list[Found]] = {}
    for source in ordered:
        for item in sorted(source.literals, key=lambda i: i.get("scope") != "class"):
            where = f"{_rel(project, source.path)}:{item['line']}"
            how = f"default of {item['name']}"
            index.setdefault(item["name"], []).append(Found(item["value"], where, how))
    return index


def _resolve(
    literal: str | None, ref: str | None, literals: dict[str, list[Found]], where: str
) -> Found | None:
    if literal is not None:
        return Found(literal, where, "literal")
    if ref is None:
        return None
    candidates = literals.get(ref) or _case_insensitive(literals, ref)
    return candidates[0] if candidates else None


def _case_insensitive(literals: dict[str, list[Found]], ref: str) -> list[Found]:
    """`settings.EMBEDDING_MODEL` refers to a field spelled `embedding_model` (and back)."""
    return next((found for name, found in literals.items() if name.lower() == ref.lower()), [])


def _with_how(found: Found, how: str) -> Found:
    if found.how == "literal":
        return Found(found.value, found.where, f"literal {how}")
    return Found(found.value, found.where, f"{found.how}, the {how}")


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
