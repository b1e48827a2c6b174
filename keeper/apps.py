from django.apps import AppConfig


class KeeperConfig(AppConfig):
    """The keeper of the pot: its reply to every message, written by a worker after the
    charge and streamed to the player (docs/GAME.md, docs/LIVE.md)."""

    name = "keeper"

    def ready(self):
        from . import checks, metrics  # noqa: F401 - they register themselves
