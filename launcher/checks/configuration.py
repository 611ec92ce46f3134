"""The settings check: every value with its source, or the one that cannot be used."""

from __future__ import annotations

from launcher.checks.core import Check, DoctorContext
from launcher.settings import Source


def check_settings(ctx: DoctorContext) -> Check:
    settings = ctx.settings
    details = {"values": settings.to_json()}
    if ctx.settings_error is not None:
        return Check(
            "settings", "fail", ctx.settings_error.message, ctx.settings_error.hint, details
        )
    changed = [
        f"{name}={value!r} ({detail})"
        for name, value, detail in settings.as_table()
        if settings.source(name) is not Source.DEFAULT
    ]
    summary = f"settings of {settings.project}: " + (
        ", ".join(changed) if changed else "all defaults"
    )
    return Check("settings", "ok", summary, "", details)
