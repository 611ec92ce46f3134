"""Say how this Python's fastembed describes models, as one JSON line (run by the backend's venv).

Standard library plus the installed fastembed only, Python 3.8-compatible: the launcher runs it
as `<venv python> -I ask.py MODEL...` and reads the hub repo id exactly as this
fastembed spells it, the model file, the additional files, and the cache folder it opens.
fastembed 0.5 lists models as dicts (`list_supported_models`), 0.6+ as description objects
(`_list_supported_models`); both are read.
"""

from __future__ import annotations

import json
import sys
from typing import Any


def _field(item: Any, name: str, default: Any = None) -> Any:
    if isinstance(item, dict):
        return item.get(name, default)
    return getattr(item, name, default)


def _describe(text_embedding: Any, wanted: set[str]) -> dict[str, Any]:
    listing = getattr(text_embedding, "_list_supported_models", None)
    described = listing() if listing is not None else text_embedding.list_supported_models()
    models: dict[str, Any] = {}
    for item in described:
        name = _field(item, "model")
        if not name or name.lower() not in wanted:
            continue
        sources = _field(item, "sources") or {}
        models[name.lower()] = {
            "model": name,
            "repo": _field(sources, "hf"),
            "model_file": _field(item, "model_file"),
            "additional_files": list(_field(item, "additional_files") or []),
            "size_in_gb": _field(item, "size_in_GB") or 0.0,
        }
    return models


def ask(names: list[str]) -> dict[str, Any]:
    """{"fastembed": version | None, "cache_dir", "models": {name: description}, "error"}."""
    out: dict[str, Any] = {"fastembed": None, "cache_dir": None, "models": {}, "error": None}
    try:
        import fastembed
        from fastembed import TextEmbedding
    except Exception as exc:  # not installed, or broken: say so, the launcher uses its table
        out["error"] = f"{type(exc).__name__}: {exc}"
        return out
    out["fastembed"] = getattr(fastembed, "__version__", None)
    out["models"] = _describe(TextEmbedding, {name.lower() for name in names})
    try:
        from fastembed.common.utils import define_cache_dir
    except Exception:  # a fastembed without it: the caller keeps its own folder
        return out
    out["cache_dir"] = str(define_cache_dir(None))
    return out


if __name__ == "__main__":
    sys.stdout.write(json.dumps(ask(sys.argv[1:])) + "\n")
