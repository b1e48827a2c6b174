from django.apps import AppConfig


class LiveConfig(AppConfig):
    name = "live"
    verbose_name = "Live"

    def ready(self) -> None:
        from chat import replies as conversation

        from . import checks, metrics, replies  # noqa: F401 - they register themselves

        conversation.followers.register(replies.EngineFollowers())
