"""Values that become parts of cache paths, checked for their exact form before any file operation.

Commit ids, blob hashes, file paths and repo ids from a hub, a mirror or a state file are
untrusted; every path the cache code touches stays inside the cache root, symlinks resolved.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

_COMMIT = re.compile(r"[0-9a-f]{40}")
_ETAG = re.compile(r"[0-9a-f]{40}|[0-9a-f]{64}")
# huggingface_hub's validate_repo_id: [org/]name of word characters, "-" and ".", no "--" or
# "..", not starting or ending with "-" or ".", at most 96 characters.
_REPO_PART = r"[A-Za-z0-9_](?:[\w.-]*[A-Za-z0-9_])?"
_REPO_ID = re.compile(rf"(?:{_REPO_PART}/)?{_REPO_PART}")
REPO_ID_MAX = 96


class OutsideCache(Exception):
    """A path the cache code was about to touch resolves outside the cache root."""


def is_commit(value: object) -> bool:
    """A git commit id exactly as the hub writes it: 40 lower-case hex characters."""
    return isinstance(value, str) and _COMMIT.fullmatch(value) is not None


def is_etag(value: object) -> bool:
    """A blob name: a git sha1 (40) or a sha256 (64), lower-case hex."""
    return isinstance(value, str) and _ETAG.fullmatch(value) is not None


def is_repo_id(value: object) -> bool:
    """A hub repo id (`org/name` or `name`) of the form huggingface_hub accepts."""
    return (
        isinstance(value, str)
        and len(value) <= REPO_ID_MAX
        and "--" not in value
        and ".." not in value
        and _REPO_ID.fullmatch(value) is not None
    )


def is_repo_path(value: object) -> bool:
    """A file path inside a repo: relative, `/`-separated, no `..`, `.` or empty part, no
    backslash, drive, NUL or control character."""
    if not isinstance(value, str) or not value or len(value) > 1024:
        return False
    if value.startswith("/") or "\\" in value or ":" in value:
        return False
    if any(ord(c) < 32 or c == "\x7f" for c in value):
        return False
    return all(part not in ("", ".", "..") for part in value.split("/"))


def is_inside(root: Path, path: Path) -> bool:
    """Whether `path`, every symlink resolved, is `root` or lies under it (also resolved)."""
    real_root = os.path.realpath(root)
    real = os.path.realpath(path)
    return real == real_root or real.startswith(real_root.rstrip(os.sep) + os.sep)


def confine(root: Path, path: Path) -> Path:
    """`path` when it stays inside `root` (symlinks resolved); else OutsideCache."""
    if not is_inside(root, path):
        raise OutsideCache(f"{path} resolves outside {root}")
    return path
