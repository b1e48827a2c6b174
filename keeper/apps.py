from django.apps import AppConfig


class KeeperConfig(AppConfig):
    """The keeper of the pot: its reply to every message, written by a worker after the
    charge and streamed to the player (DESIGN sections 5, 8 and 9)."""

    name = "keeper"

    def ready(self):
        from . import checks, metrics  # noqa: F401 - they register themselves
