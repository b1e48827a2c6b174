import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    """Index a transfer's operator only where there is one. The foreign key's own index
    is dropped by name; the constraint stays as it is (altering the field would drop it
    and check every row again to add it back)."""

    dependencies = [
        ("chat", "0002_pot_after_after_commit"),
        ("pot", "0003_permissions"),
        ("wallet", "0004_claims_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(
                    model_name="transfer",
                    name="actor",
                    field=models.ForeignKey(
                        blank=True,
                        db_index=False,
                        help_text="The operator who made this transfer, if one did.",
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            database_operations=[
                migrations.RunSQL(
                    "DROP INDEX IF EXISTS wallet_transfer_actor_id_7ca87169",
                    reverse_sql=(
                        "CREATE INDEX wallet_transfer_actor_id_7ca87169 "
                        "ON wallet_transfer (actor_id)"
                    ),
                ),
            ],
        ),
        migrations.AddIndex(
            model_name="transfer",
            index=models.Index(
                condition=models.Q(("actor__isnull", False)),
                fields=["actor"],
                name="wallet_transfer_actor_idx",
            ),
        ),
    ]
