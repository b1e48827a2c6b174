# The keeper's reply to each message is the conversation's own record again: the send
# makes it with its message. Its table stays as the keeper app made it (keeper_reply); the
# keeper app (keeper/migrations/0004_reply_to_chat.py) lets it go.

import django.db.models.deletion
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ("chat", "0004_reply_moved_to_keeper"),
        ("keeper", "0003_reply_interrupted"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name="Reply",
                    fields=[
                        (
                            "message",
                            models.OneToOneField(
                                on_delete=django.db.models.deletion.CASCADE,
                                primary_key=True,
                                related_name="reply",
                                serialize=False,
                                to="chat.message",
                            ),
                        ),
                        (
                            "status",
                            models.CharField(
                                choices=[
                                    ("pending", "Waiting for a worker"),
                                    ("streaming", "Being written"),
                                    ("done", "Done"),
                                    ("stopped", "Stopped by the player"),
                                    ("interrupted", "Cut short: its writer died part-way"),
                                ],
                                default="pending",
                                max_length=12,
                            ),
                        ),
                        ("ordinal", models.PositiveIntegerField()),
                        ("attempt", models.PositiveSmallIntegerField(default=0)),
                        ("lease_until", models.DateTimeField(blank=True, null=True)),
                        ("text", models.TextField(blank=True)),
                        (
                            "request_id",
                            models.CharField(blank=True, default="", max_length=128),
                        ),
                    ],
                    options={
                        "db_table": "keeper_reply",
                        "verbose_name_plural": "replies",
                        "indexes": [
                            models.Index(
                                condition=models.Q(("status__in", ["pending", "streaming"])),
                                fields=["status", "message"],
                                name="keeper_reply_open_idx",
                            )
                        ],
                        "constraints": [
                            models.CheckConstraint(
                                condition=models.Q(
                                    ("status", "streaming"),
                                    ("lease_until__isnull", True),
                                    _connector="OR",
                                ),
                                name="keeper_reply_lease_only_while_streaming",
                            )
                        ],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
