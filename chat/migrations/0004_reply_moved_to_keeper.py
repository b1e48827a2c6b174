# The keeper's reply is its own record now (keeper 0001 copied it there).

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("chat", "0003_live_replies"),
        ("keeper", "0001_initial"),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="message",
            name="chat_message_reply_open_idx",
        ),
        migrations.RemoveField(
            model_name="message",
            name="reply",
        ),
        migrations.RemoveField(
            model_name="message",
            name="reply_attempts",
        ),
        migrations.RemoveField(
            model_name="message",
            name="reply_lease_until",
        ),
        migrations.RemoveField(
            model_name="message",
            name="reply_status",
        ),
    ]
