"""The one switch of start-up speed: `ROBO_BACKEND_FAST_START=0` turns every speed device off.

Each device short-cuts work whose outcome it predicts, so each is also a place where a wrong
prediction could hide. With the switch off, `up` does that work the plain way, which is what a
diagnosis compares against. The devices (gains measured in docs/benchmarks.md):

- the early start of a warm `up` (`launcher/up/early.py`, called by `launcher/__main__.py`);
- the early interpreter probe of a cold `up` (`probe_soon` in `launcher/venvs/interpreters.py`,
  started by the same entry point);
- the remembered fastembed answer and reading the venv's fastembed source instead of importing
  it (`launcher/fastembed/probe.py`, `launcher/fastembed/static.py`).
"""

from __future__ import annotations

from collections.abc import Mapping

from launcher.values import FALSE_WORDS

SWITCH = "ROBO_BACKEND_FAST_START"


def fast_start(env: Mapping[str, str]) -> bool:
    """True unless `env` turns the speed devices off (`0`, `false`, `no`, `off`)."""
    return env.get(SWITCH, "").strip().lower() not in FALSE_WORDS - {""}
