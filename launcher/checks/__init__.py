"""Doctor's checks as data, reused by `up` as its pre-flight.

Every check returns `Check(id, status, summary, hint, details)`; the ids are a stable contract
(docs/doctor.md). `warn`: `up` copes but you should know; `fail`: `up` will stop. Nothing heavy
is imported at module top: each check imports what it needs when it runs.
"""

from __future__ import annotations

from launcher.checks.core import Check, DoctorContext, PreflightError
from launcher.checks.runner import CHECK_IDS, document, overall_ok, preflight, run_checks

__all__ = [
    "CHECK_IDS",
    "Check",
    "DoctorContext",
    "PreflightError",
    "document",
    "overall_ok",
    "preflight",
    "run_checks",
]
