# The game moves onto a seed chain (docs/GAME.md, "The seed chain"): a chain of
# SEED_CHAIN_LENGTH seeds takes over from the round after the open one, or from the open
# round itself while no message has been drawn against its seed (a new game: round 1).
# Earlier rounds keep the seeds they had.

import django.db.models.deletion
import django.utils.timezone
from django.conf import settings
from django.db import migrations, models

from pot import fairness


def start_chain(apps, schema_editor):
    Round = apps.get_model("pot", "Round")
    SeedChain = apps.get_model("pot", "SeedChain")
    SeedCheckpoint = apps.get_model("pot", "SeedCheckpoint")
    Message = apps.get_model("chat", "Message")
    open_round = Round.objects.filter(outcome="open").first()
    if open_round is None:
        return
    drawn = Message.objects.filter(round=open_round).exists()
    length = settings.SEED_CHAIN_LENGTH
    terminal, checkpoints = fairness.chain_checkpoints(length)
    chain = SeedChain.objects.create(
        terminal_hash=terminal,
        length=length,
        first_round=open_round.number + 1 if drawn else open_round.number,
    )
    SeedCheckpoint.objects.bulk_create(
        SeedCheckpoint(chain=chain, position=position, seed=seed)
        for position, seed in checkpoints.items()
    )
    if not drawn:
        seed = fairness.chain_seed(
            1, checkpoint=min(checkpoints), checkpoint_seed=checkpoints[min(checkpoints)]
        )
        open_round.server_seed = seed
        open_round.server_seed_hash = fairness.hash_server_seed(seed)
        open_round.chain = chain
        open_round.save(update_fields=["server_seed", "server_seed_hash", "chain"])


class Migration(migrations.Migration):

    dependencies = [
        ('pot', '0004_gameconfig_to_game'),
        ('chat', '0005_reply'),
    ]

    operations = [
        migrations.CreateModel(
            name='SeedChain',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('terminal_hash', models.CharField(max_length=64, unique=True)),
                ('length', models.PositiveIntegerField(help_text='Seeds in the chain: one per round.')),
                ('first_round', models.PositiveIntegerField(help_text="The round that takes the chain's first seed.", unique=True)),
                ('created_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'ordering': ['first_round'],
            },
        ),
        migrations.AddField(
            model_name='round',
            name='chain',
            field=models.ForeignKey(blank=True, null=True, on_delete=django.db.models.deletion.PROTECT, related_name='rounds', to='pot.seedchain'),
        ),
        migrations.CreateModel(
            name='SeedCheckpoint',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('position', models.PositiveIntegerField()),
                ('seed', models.CharField(max_length=64)),
                ('chain', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='checkpoints', to='pot.seedchain')),
            ],
            options={
                'constraints': [models.UniqueConstraint(fields=('chain', 'position'), name='pot_seed_checkpoint_once')],
            },
        ),
        migrations.RunPython(start_chain, migrations.RunPython.noop),
    ]
