from django.db import models
from django.utils import timezone


class Tick(models.Model):
    """One publish of the announcer (live.announcer) to the engines: every win and round
    since the last tick, then the pot (docs/LIVE.md). Its key is the `T` of the pot's
    event id `N.T`; a client whose last event was that pot comes back where the engine
    holds the tick, if it does."""

    id = models.BigIntegerField(primary_key=True)
    round = models.PositiveIntegerField()
    amount = models.BigIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    # The engines that took the tick: engine name -> the engine's own id of the message
    # ("time:tag", nchan's), where a client that heard it resumes.
    deliveries = models.JSONField(default=dict)

    def __str__(self) -> str:
        return f"Tick {self.id} (round {self.round}, pot {self.amount})"


class Engine(models.Model):
    """A real-time engine the announcer publishes to, by the name it gives itself."""

    name = models.CharField(max_length=200, primary_key=True)
    # The first tick of the unbroken run the engine holds: ticks before it it missed or
    # lost (it was down, or restarted), so a client that heard one is caught up by the app.
    since = models.BigIntegerField(null=True)
    # Where the app publishes to it (one of LIVE_PUBLISH_URLS).
    publisher = models.CharField(max_length=500, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Lease(models.Model):
    """Who announces: one announcer speaks for the whole deployment, the one holding this
    lease (renewed on every tick; taken by another once it runs out)."""

    name = models.CharField(max_length=50, primary_key=True)
    holder = models.CharField(max_length=64)
    until = models.DateTimeField()

    def __str__(self) -> str:
        return f"{self.name}: {self.holder} until {self.until:%H:%M:%S}"
