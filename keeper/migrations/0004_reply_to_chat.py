# The reply's record goes to the chat app (chat/migrations/0005_reply.py): the table stays;
# its content type, and so the staff's permissions on it, go with it.

from django.db import migrations


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    moved = ContentType.objects.filter(app_label="keeper", model="reply").first()
    if moved is None:
        return
    made = ContentType.objects.filter(app_label="chat", model="reply").first()
    if made is not None:  # made meanwhile: its permissions give way to the ones granted
        Permission.objects.filter(content_type=made).delete()
        made.delete()
    moved.app_label = "chat"
    moved.save(update_fields=["app_label"])


def move_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="chat", model="reply").update(app_label="keeper")


class Migration(migrations.Migration):

    dependencies = [
        ("keeper", "0003_reply_interrupted"),
        ("chat", "0005_reply"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(move_content_type, move_back),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="Reply")],
            database_operations=[],
        ),
    ]
