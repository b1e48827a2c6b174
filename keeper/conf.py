"""The keeper's timings, in one place: `settings.KEEPER` (docs/OPERATIONS.md), by the
upper-case names of these fields."""

from dataclasses import dataclass, fields

from django.conf import settings


@dataclass(frozen=True)
class Timings:
    """In seconds but `max_attempts`; each is a setting of its own, its meaning declared
    once in common/environment.py (CHATBOT_TIMEOUT and the KEEPER_* settings)."""

    timeout: float
    lease: float
    renew_every: float
    grace: float
    sweep_every: float
    poll_every: float
    claim_every: float
    max_attempts: int


NAMES = {field.name.upper(): field.name for field in fields(Timings)}


def timings() -> Timings:
    return Timings(**{NAMES[name]: value for name, value in settings.KEEPER.items()})
