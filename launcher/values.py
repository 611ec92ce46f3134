"""Plain values shared by every module: booleans from text, byte sizes for people and back."""

from __future__ import annotations

import math
from typing import Any

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})


def parse_bool(value: Any) -> bool:
    """A setting's boolean: `true/yes/on/1` or `false/no/off/0/""`; else a ValueError."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in TRUE_WORDS:
        return True
    if text in FALSE_WORDS:
        return False
    raise ValueError("expected true or false")


def parse_byte_rate(value: Any) -> float:
    """A setting's byte rate: a number of bytes per second, 0 or more; else a ValueError."""
    if isinstance(value, bool):
        raise ValueError("expected a number of bytes per second")
    number = float(str(value).strip())
    if not math.isfinite(number) or number < 0:
        raise ValueError("expected a number of bytes per second, 0 or more")
    return number


def truthy(value: str | None) -> bool:
    """An environment flag (`ROBO_BACKEND_DEBUG`, `HF_HUB_OFFLINE`, …): on only for a true word."""
    return (value or "").strip().lower() in TRUE_WORDS


def format_bytes(size: float) -> str:
    """Human size with decimal units (`672 B`, `91.2 MB`), as `hf cache ls` prints them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB", "TB"):
        if abs(value) < 1000 or unit == "TB":
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    raise AssertionError("unreachable")  # pragma: no cover
