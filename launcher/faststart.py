"""The one switch of start-up speed: `ROBO_BACKEND_FAST_START=0` turns every speed device off.

Each device short-cuts work whose outcome it predicts; with the switch off `up` does that work the
plain way, for diagnosis. The devices: the early start (`up/early.py`), the early interpreter
probe (`venvs/interpreters.py`), the remembered fastembed answer and the source reading
(`fastembed/probe.py`, `fastembed/static.py`); their gains are in docs/benchmarks.md.
"""

from __future__ import annotations

from collections.abc import Mapping

from launcher.values import FALSE_WORDS

SWITCH = "ROBO_BACKEND_FAST_START"


def fast_start(env: Mapping[str, str]) -> bool:
    """True unless `env` turns the speed devices off (`0`, `false`, `no`, `off`)."""
    return env.get(SWITCH, "").strip().lower() not in FALSE_WORDS - {""}
