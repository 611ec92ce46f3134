"""Read each service's `command:` and `entrypoint:` from a compose file, without a YAML library.

Only the forms those two keys come in are read (plain or quoted string, folded or literal block,
flow or block list); anything else is no statement, and discovery goes on without it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path

COMPOSE_FILES = ("compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml")
_KEY = re.compile(r"^(\s*)([A-Za-z0-9_.-]+)\s*:(?:\s+(.*))?$")
_KEYS = ("entrypoint", "command")


@dataclass(frozen=True)
class ServiceCommand:
    """One service's command: the words of a list, or a string for the shell to split."""

    service: str
    key: str
    value: str | list[str]


def _strip_comment(text: str) -> str:
    """`value  # note` → `value` (a `#` inside quotes stays)."""
    quote = ""
    for index, char in enumerate(text):
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == "#" and (index == 0 or text[index - 1] in " \t"):
            return text[:index].rstrip()
    return text.rstrip()


def _scalar(text: str) -> str:
    text = text.strip()
    if len(text) >= 2 and text[0] == text[-1] == '"':
        try:
            value = json.loads(text)
            return value if isinstance(value, str) else text
        except ValueError:
            return text[1:-1]
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("''", "'")
    return text


def _flow_list(text: str) -> list[str]:
    """`["a", 'b', c]` → [a, b, c] (commas inside quotes kept)."""
    items: list[str] = []
    current, quote = "", ""
    for char in text.strip()[1:-1]:
        if quote:
            quote = "" if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char == ",":
            items.append(current)
            current = ""
            continue
        current += char
    if current.strip():
        items.append(current)
    return [_scalar(item) for item in items]


def _block(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    """The lines indented deeper than `indent` from `start` (blank lines kept), and the next."""
    taken: list[str] = []
    index = start
    while index < len(lines):
        line = lines[index]
        if line.strip() and len(line) - len(line.lstrip()) <= indent:
            break
        taken.append(line)
        index += 1
    return taken, index


def _value(inline: str, lines: list[str], start: int, indent: int) -> tuple[str | list[str], int]:
    """The value of a key whose text after the colon is `inline`; returns it and the next line."""
    inline = _strip_comment(inline)
    if inline.startswith("["):
        text, index = inline, start
        while not text.rstrip().endswith("]") and index < len(lines):
            text += " " + _strip_comment(lines[index].strip())
            index += 1
        return _flow_list(text), index
    following, index = _block(lines, start, indent)
    if inline[:1] in (">", "|"):
        body = [line.strip() for line in following]
        return ("\n" if inline[0] == "|" else " ").join(line for line in body if line), index
    if inline:
        more = " ".join(_strip_comment(line.strip()) for line in following if line.strip())
        return _scalar(f"{inline} {more}".strip()), index
    # a block list may sit at the key's own indentation
    items, index = _items(lines, start, indent)
    return items, index


def _items(lines: list[str], start: int, indent: int) -> tuple[list[str], int]:
    items: list[str] = []
    index = start
    while index < len(lines):
        stripped = lines[index].strip()
        depth = len(lines[index]) - len(lines[index].lstrip())
        if stripped and (not stripped.startswith("- ") or depth < indent):
            if not stripped.startswith("#"):
                break
        elif stripped.startswith("- "):
            items.append(_scalar(_strip_comment(stripped[2:])))
        index += 1
    return items, index


def compose_commands(text: str) -> list[ServiceCommand]:
    """Every service's `entrypoint:` and `command:`, in file order."""
    lines = text.splitlines()
    found: list[ServiceCommand] = []
    services_indent: int | None = None
    service, service_indent = "", -1
    index = 0
    while index < len(lines):
        match = _KEY.match(lines[index])
        index += 1
        if match is None:
            continue
        indent, key, inline = len(match.group(1)), match.group(2), match.group(3) or ""
        if indent == 0:
            services_indent = 0 if key == "services" else None
            service = ""
            continue
        if services_indent is None:
            continue
        if not service or indent <= service_indent:
            service, service_indent = key, indent
            continue
        if key in _KEYS and indent > service_indent:
            value, index = _value(inline, lines, index, indent)
            found.append(ServiceCommand(service, key, value))
    return found


def read_compose(path: Path) -> list[ServiceCommand]:
    try:
        return compose_commands(path.read_text(encoding="utf-8", errors="replace"))
    except OSError:
        return []
