"""The model-switch check: did the last run use another embedding model than the runs before?"""

from __future__ import annotations

from launcher.checks.core import Check, DoctorContext


def check_model_switch(ctx: DoctorContext) -> Check:
    from launcher.models.switch import last_switch, last_used_model

    status_file = ctx.settings.status_file
    switch = last_switch(status_file)
    used = last_used_model(status_file)
    details = {"status_file": str(status_file), "last_used": used}
    if switch is None:
        summary = (
            f"embedding model unchanged (last used: {used})"
            if used
            else ("no run recorded an embedding model yet")
        )
        return Check("model-switch", "ok", summary, "", details)
    details.update(changed_from=switch.before)
    return Check(
        "model-switch",
        "warn",
        f"the last run switched the embedding model from {switch.before} to {switch.now}: "
        "vectors stored before no longer match",
        f"Re-index the stored vectors, or make {switch.before} available again "
        "(`robo-backend prefetch`); allow_model_switch = false refuses a switch.",
        details,
    )
