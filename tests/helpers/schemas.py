"""The JSON documents of `doctor --json` and `clear-cache --json`, as JSON Schema, and a small
validator for the subset used here (type, enum, const, required, properties,
additionalProperties, items, minimum). Written out so a change to the contract fails a test.
"""

from __future__ import annotations

from typing import Any

DOCTOR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "ok", "checks"],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": 1},
        "ok": {"type": "boolean"},
        "checks": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id", "status", "summary", "hint", "details"],
                "additionalProperties": False,
                "properties": {
                    "id": {"type": "string"},
                    "status": {"enum": ["ok", "warn", "fail"]},
                    "summary": {"type": "string"},
                    "hint": {"type": "string"},
                    "details": {"type": "object"},
                },
            },
        },
    },
}

CLEAR_CACHE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["schema", "dry_run", "root", "entries", "freed_bytes"],
    "additionalProperties": False,
    "properties": {
        "schema": {"const": 1},
        "dry_run": {"type": "boolean"},
        "root": {"type": "string"},
        "freed_bytes": {"type": "integer", "minimum": 0},
        "entries": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["path", "bytes", "kind", "action", "reason"],
                "additionalProperties": False,
                "properties": {
                    "path": {"type": "string"},
                    "bytes": {"type": "integer", "minimum": 0},
                    "kind": {"type": "string"},
                    "action": {"enum": ["deleted", "would-delete", "skipped"]},
                    "reason": {"type": "string"},
                },
            },
        },
    },
}

_TYPES: dict[str, tuple[type, ...]] = {
    "object": (dict,),
    "array": (list,),
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
}


def validate(document: Any, schema: dict[str, Any], where: str = "$") -> None:
    """Raise AssertionError naming the first place `document` breaks `schema`."""
    if "const" in schema:
        assert document == schema["const"], f"{where}: expected {schema['const']!r}"
    if "enum" in schema:
        assert document in schema["enum"], f"{where}: {document!r} not in {schema['enum']}"
    if "type" in schema:
        kind = schema["type"]
        ok = isinstance(document, _TYPES[kind]) and not (
            kind == "integer" and isinstance(document, bool)
        )
        assert ok, f"{where}: expected {kind}, got {type(document).__name__}"
    if "minimum" in schema:
        assert document >= schema["minimum"], f"{where}: below {schema['minimum']}"
    if isinstance(document, dict):
        for key in schema.get("required", []):
            assert key in document, f"{where}: missing {key!r}"
        properties = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            extra = set(document) - set(properties)
            assert not extra, f"{where}: unexpected keys {sorted(extra)}"
        for key, sub in properties.items():
            if key in document:
                validate(document[key], sub, f"{where}.{key}")
    if isinstance(document, list) and "items" in schema:
        for index, item in enumerate(document):
            validate(item, schema["items"], f"{where}[{index}]")
