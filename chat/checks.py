"""System checks of the chat's settings."""

from django.conf import settings
from django.core import checks

DATABASE_BACKEND = "django_tasks_db.DatabaseBackend"


@checks.register()
def replies_are_enqueued_in_the_database(app_configs, **kwargs):
    """The send stores its reply's task in its own transaction (chat.services): the tasks
    must live in the database, where django-tasks-db's backend keeps them."""
    backend = settings.TASKS.get("default", {}).get("BACKEND")
    if backend == DATABASE_BACKEND:
        return []
    return [
        checks.Error(
            f"TASKS['default'] is {backend!r}: the keeper's replies are enqueued with the "
            f"message, in the database, which needs {DATABASE_BACKEND!r}.",
            id="chat.E001",
        )
    ]
