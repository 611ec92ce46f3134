"""Plain values shared by every module: settings' values parsed from text, byte sizes both ways."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

TRUE_WORDS = frozenset({"1", "true", "yes", "on"})
FALSE_WORDS = frozenset({"0", "false", "no", "off", ""})
MAX_SECONDS = 86_400.0  # a day: any wait longer than that is a typo, not a setting


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


def _non_negative(value: Any, what: str) -> float:
    if isinstance(value, bool):
        raise ValueError(f"expected {what}")
    number = float(str(value).strip())
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"expected {what}, 0 or more")
    return number


def parse_byte_rate(value: Any) -> float:
    """A setting's byte rate: a number of bytes per second, 0 or more; else a ValueError."""
    return _non_negative(value, "a number of bytes per second")


def truthy(value: str | None) -> bool:
    """An environment flag (`ROBO_BACKEND_DEBUG`, `HF_HUB_OFFLINE`, …): on only for a true word."""
    return (value or "").strip().lower() in TRUE_WORDS


def format_bytes(size: float) -> str:
    """Human size with decimal units (`672 B`, `91.2 MB`), as `hf cache ls` prints them."""
    value = float(size)
    for unit in ("B", "kB", "MB", "GB"):
        if abs(value) < 1000:
            return f"{int(value)} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def parse_whole(low: int, high: int, what: str) -> Callable[[Any], int]:
    """A parser of whole numbers from `low` to `high` (`what` names them in its error)."""

    def parse(value: Any) -> int:
        number = None if isinstance(value, bool) else int(str(value).strip())
        if number is None or not low <= number <= high:
            raise ValueError(f"expected {what} from {low} to {high}")
        return number

    return parse


def parse_seconds(value: Any) -> float:
    """A setting's number of seconds: 0 or more, at most a day (more is a typo)."""
    number = _non_negative(value, "a number of seconds")
    if number > MAX_SECONDS:
        raise ValueError(f"at most {MAX_SECONDS:.0f} seconds (a day)")
    return number


def parse_text(value: Any) -> str:
    """A setting's text (a number written without quotes in TOML counts as text)."""
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        raise ValueError("expected a string")
    return str(value)


def parse_optional_text(value: Any) -> str | None:
    """A setting's text, or None when it is empty."""
    text = parse_text(value).strip() if value is not None else ""
    return text or None


def parse_choice(options: tuple[str, ...]) -> Callable[[Any], str]:
    """A parser of one of `options` (any casing)."""

    def parse(value: Any) -> str:
        text = parse_text(value).strip().lower()
        if text not in options:
            raise ValueError(f"expected one of {', '.join(options)}")
        return text

    return parse
