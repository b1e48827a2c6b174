"""Background tasks of the chat, run by `manage.py run_worker` (django.tasks)."""

from django.tasks import task

from . import replies


@task()
async def generate_reply(message_id: int, ordinal: int) -> None:
    """The keeper's reply to a message whose charge has committed."""
    await replies.generate_reply(message_id, ordinal)
