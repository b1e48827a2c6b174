from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live"

    def ready(self) -> None:
        from keeper import streaming

        from . import checks, replies  # noqa: F401 - the checks register themselves

        streaming.followers.register(replies.EngineFollowers())
