"""The keeper's timings, in one place: `settings.KEEPER` (docs/OPERATIONS.md), by the
upper-case names of these fields."""

from dataclasses import dataclass, fields

from django.conf import settings


@dataclass(frozen=True)
class Timings:
    # The model's whole reply, in seconds; what it has written by then stands.
    timeout: float
    # How long a claim holds a reply without being renewed: a worker that stops renewing
    # (killed, paused, cut off) loses the reply to another after this.
    lease: float
    # How often a worker renews the leases of the replies it writes.
    renew_every: float
    # A worker told to stop lets the replies it writes run this long, then hands them on.
    grace: float
    # How often a worker looks for replies nobody notified it of: leases that ran out, and
    # anything sent while it was not listening.
    sweep_every: float
    # How often a worker looks for new replies where nothing notifies it (SQLite).
    poll_every: float
    # A worker claims at most this often: notified of a reply while idle, it claims it at
    # once; busy, it lets replies gather, and claims them together. (Measured with the
    # built-in keeper at 32 connections: claimed one by one, as notified, the worker's
    # CPU cut the sends a second by a third.)
    claim_every: float
    # Claims of one reply before the built-in keeper answers it instead of the model: a
    # reply whose workers keep dying ends all the same.
    max_attempts: int


NAMES = {field.name.upper(): field.name for field in fields(Timings)}


def timings() -> Timings:
    return Timings(**{NAMES[name]: value for name, value in settings.KEEPER.items()})
