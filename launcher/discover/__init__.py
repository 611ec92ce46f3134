"""What the backend's code tells, read without importing it: its app, model and cache folder.

- `scan.py`: one source file → plain facts (stdlib only; the backend's python can run it);
- `source.py`: read files with the launcher's parser, else the backend's, else tokens;
- `files.py`: the backend's own .py files (no venvs, caches, tests or nested projects), and
  which of them an import names;
- `apps.py`: the ASGI app as the project states it (`discover_app`), else by fastapi-cli's
  rules; `target.py` its result (`AppTarget`); `stated.py` the statements (pyproject's
  `[tool.fastapi]`, `dockerfile.py`, a Procfile, `compose.py`), read by `cmdline.py`;
- `hardwired.py`: the literal model and cache_dir in the code, with `file:line`, following
  names through the project's own imports;
- `adopt.py`: let those fill settings left at their defaults (explicit settings win).
"""

from __future__ import annotations

from launcher.discover.apps import CANDIDATE_FILES, CANDIDATE_NAMES, AppTarget, discover_app
from launcher.discover.hardwired import Found, Hardwired, find_hardwired

__all__ = [
    "CANDIDATE_FILES",
    "CANDIDATE_NAMES",
    "AppTarget",
    "Found",
    "Hardwired",
    "discover_app",
    "find_hardwired",
]
