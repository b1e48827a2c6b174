from django.apps import AppConfig


class PotConfig(AppConfig):
    name = "pot"

    def ready(self):
        from . import audit  # noqa: F401 - registers the pot's invariants with the audit
