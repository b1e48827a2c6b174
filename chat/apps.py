from django.apps import AppConfig


class ChatConfig(AppConfig):
    name = "chat"

    def ready(self):
        from . import audit  # noqa: F401 - registers the messages' invariants with the audit
