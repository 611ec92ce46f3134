"""Keep secrets out of every output and log: values of HF_TOKEN, *_TOKEN, *_API_KEY, *_SECRET.

The values to hide are collected from the environment and from files registered with
`register_secret_file` (the project's `.env`), then replaced by `***` wherever they appear.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

_SECRET_NAME = re.compile(r"(TOKEN|API_KEY|APIKEY|SECRET|PASSWORD|PASSWD)$", re.IGNORECASE)
_MIN_LEN = 4
_extra: set[str] = set()


def is_secret_name(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def secret_values(env: Mapping[str, str] | None = None) -> set[str]:
    source = os.environ if env is None else env
    found = {v for k, v in source.items() if is_secret_name(k) and len(v) >= _MIN_LEN}
    return found | _extra


def register_secrets(values: Iterable[str]) -> None:
    _extra.update(v for v in values if len(v) >= _MIN_LEN)


def register_secret_file(path: Path) -> None:
    """Read KEY=VALUE lines of a dotenv file and hide the values of secret-looking keys."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#") or "=" not in stripped:
            continue
        key, _, value = stripped.removeprefix("export ").partition("=")
        value = value.strip().strip("'\"")
        if is_secret_name(key.strip()):
            register_secrets([value])


def redact(text: str) -> str:
    for value in sorted(secret_values(), key=len, reverse=True):
        if value in text:
            text = text.replace(value, "***")
    return text
