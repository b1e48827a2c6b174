import hashlib
import secrets

from django.db import migrations


def create_game(apps, schema_editor):
    """The one config row, the house and pot accounts, and round 1 with its committed seed."""
    GameConfig = apps.get_model("pot", "GameConfig")
    Round = apps.get_model("pot", "Round")
    Account = apps.get_model("wallet", "Account")

    GameConfig.objects.get_or_create(pk=1)
    # The house is created first so that it has the lowest key of all accounts.
    Account.objects.get_or_create(kind="house")
    Account.objects.get_or_create(kind="pot")
    if not Round.objects.filter(outcome="open").exists():
        server_seed = secrets.token_hex(32)
        Round.objects.create(
            number=1,
            server_seed=server_seed,
            server_seed_hash=hashlib.sha256(server_seed.encode()).hexdigest(),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("pot", "0001_initial"),
        ("wallet", "0001_initial"),
    ]

    operations = [migrations.RunPython(create_game, migrations.RunPython.noop)]
