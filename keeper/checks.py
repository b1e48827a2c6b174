"""System checks of the keeper's settings."""

from django.conf import settings
from django.core import checks

from .conf import NAMES, timings


@checks.register()
def timings_hold_together(app_configs, **kwargs):
    errors = []
    configured = set(getattr(settings, "KEEPER", {}))
    if configured != set(NAMES):
        unknown, missing = sorted(configured - set(NAMES)), sorted(set(NAMES) - configured)
        errors.append(
            checks.Error(
                "KEEPER must give each of the keeper's timings, and only those: "
                f"unknown {', '.join(unknown) or 'none'}; missing {', '.join(missing) or 'none'}.",
                hint=f"The keeper's timings are {', '.join(NAMES)} (docs/OPERATIONS.md).",
                id="keeper.E001",
            )
        )
        return errors
    configured = timings()
    if min(configured.timeout, configured.renew_every, configured.sweep_every) <= 0:
        errors.append(
            checks.Error(
                "KEEPER's TIMEOUT, RENEW_EVERY and SWEEP_EVERY must be more than 0.",
                id="keeper.E002",
            )
        )
    if configured.lease < 2 * configured.renew_every:
        errors.append(
            checks.Error(
                f"KEEPER's LEASE ({configured.lease} s) must be at least twice RENEW_EVERY "
                f"({configured.renew_every} s): a worker alive and writing would otherwise "
                "lose its replies to another between two renewals.",
                id="keeper.E003",
            )
        )
    if configured.max_attempts < 1:
        errors.append(checks.Error("KEEPER's MAX_ATTEMPTS must be 1 or more.", id="keeper.E004"))
    return errors
