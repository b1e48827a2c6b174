# The game's parameters move to the game app (game/migrations/0001_initial.py): the table
# stays as it is; its content type, and so the staff's permissions on it, go with it.

from django.db import migrations


def move_content_type(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    moved = ContentType.objects.filter(app_label="pot", model="gameconfig").first()
    if moved is None:
        return
    made = ContentType.objects.filter(app_label="game", model="gameconfig").first()
    if made is not None:  # made meanwhile: its permissions give way to the ones granted
        Permission.objects.filter(content_type=made).delete()
        made.delete()
    moved.app_label = "game"
    moved.save(update_fields=["app_label"])


def move_back(apps, schema_editor):
    ContentType = apps.get_model("contenttypes", "ContentType")
    ContentType.objects.filter(app_label="game", model="gameconfig").update(app_label="pot")


class Migration(migrations.Migration):

    dependencies = [
        ("pot", "0003_permissions"),
        ("game", "0001_initial"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [
        migrations.RunPython(move_content_type, move_back),
        migrations.SeparateDatabaseAndState(
            state_operations=[migrations.DeleteModel(name="GameConfig")],
            database_operations=[],
        ),
    ]
