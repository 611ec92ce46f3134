"""The verification stamp (`.robo-verified.json`): what was verified, so warm checks stat only."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from launcher.fileops import DEFAULT_FILE_OPS, FileOps, atomic_write_text, read_state_json
from launcher.models.names import is_commit, is_repo_path
from launcher.models.provenance import FOUND, Provenance
from launcher.models.registry import ModelSpec

STAMP_NAME = ".robo-verified.json"
STAMP_SCHEMA = 1


@dataclass(frozen=True)
class Stamp:
    """A stamp a check can rely on: the verified commit, per file (repo path) its size, sha256,
    etag and the mtime_ns seen then, and where the model came from (None: not recorded)."""

    commit: str
    files: dict[str, dict[str, Any]]
    source: Provenance | None


def _valid_entry(rel: Any, info: Any) -> bool:
    return (
        is_repo_path(rel)
        and isinstance(info, dict)
        and isinstance(info.get("size"), int)
        and isinstance(info.get("sha256"), str)
    )


def stamp_from_json(stamp: Any, spec: ModelSpec) -> Stamp | None:
    """The stamp (parsed JSON) when it is one for `spec` that a check can rely on, else None.

    The stamp is input like any file on disk: its commit must be a commit id and its file
    names paths inside the repo, or it is not relied on (and the model is checked the long way).
    """
    if (
        isinstance(stamp, dict)
        and stamp.get("schema") == STAMP_SCHEMA
        and is_commit(stamp.get("commit"))
        and isinstance(stamp.get("files"), dict)
        and spec.model_file in stamp["files"]
        and all(_valid_entry(rel, info) for rel, info in stamp["files"].items())
        and str(stamp.get("repo", "")).lower() == spec.repo.lower()
    ):
        return Stamp(stamp["commit"], stamp["files"], Provenance.from_json(stamp.get("source")))
    return None


def write_stamp(
    folder: Path,
    spec: ModelSpec,
    commit: str,
    files: Mapping[str, Mapping[str, Any]],
    ops: FileOps = DEFAULT_FILE_OPS,
    source: Provenance | None = None,
    how: str = FOUND,
) -> None:
    """Record what was verified: per file its size, etag, sha256 and the mtime_ns seen then,
    and where the model came from (`source`).

    `files` maps repo paths to {"etag", "sha256"}; size and mtime are read here, after the files
    are in place, so a later stat-only check can tell "untouched since verification". Without
    `source`, the provenance of the stamp being replaced is kept, else it is unknown (`how`).
    """
    snapshot = folder / "snapshots" / commit  # as `layout.snapshot_dir` lays it out
    entries: dict[str, dict[str, Any]] = {}
    for rel, info in files.items():
        stat = os.stat(snapshot / rel)
        entries[rel] = {
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
            "etag": info["etag"],
            "sha256": info["sha256"],
        }
    stamp = {
        "schema": STAMP_SCHEMA,
        "model": spec.name,
        "repo": spec.repo,
        "commit": commit,
        "model_file": spec.model_file,
        "verified_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "source": (source or _previous_source(folder) or Provenance.unknown(how, commit)).to_json(),
        "files": entries,
    }
    atomic_write_text(folder / STAMP_NAME, json.dumps(stamp, indent=2), ops)


def _previous_source(folder: Path) -> Provenance | None:
    """The provenance the stamp being replaced records (None: none, or not recorded)."""
    stamp = read_state_json(folder / STAMP_NAME)
    return Provenance.from_json(stamp.get("source")) if isinstance(stamp, dict) else None
