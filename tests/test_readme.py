"""The README reads top to bottom: no bare `robo-backend` call before it says where the command
is (the first command installs it into `.venv/bin/`, which is not on PATH)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
CALL = re.compile(
    r"(?<![\w/\\.-])robo-backend (?:up|doctor|prefetch|clear-cache|activate|status)\b"
)


def test_no_bare_call_before_the_commands_section_explains_the_path() -> None:
    text = README.read_text(encoding="utf-8")
    head, _, rest = text.partition("\n## Commands\n")
    assert rest, "the README has a Commands section"
    bare = [line for line in head.splitlines() if CALL.search(line)]
    assert not bare, bare
    explanation = rest.split("| command |", 1)[0]
    assert ".venv/bin/robo-backend" in explanation and "PATH" in explanation


def test_nothing_cites_a_document_outside_the_repository() -> None:
    root = README.parent
    outside = "GUI" + "DE"  # the name of a guide that is not in this repository
    files = [README, *root.glob("docs/*.md")]
    for folder in ("launcher", "tests", "bench", "examples"):
        files += [p for p in (root / folder).rglob("*.py") if ".venv" not in p.parts]
    citing = [str(p) for p in files if outside in p.read_text(encoding="utf-8", errors="replace")]
    assert not citing, citing
