# The game's parameters, made in the pot app (its table keeps that name), now this app's.

from decimal import Decimal

import django.core.validators
import django.utils.timezone
from django.db import migrations, models


class Migration(migrations.Migration):

    initial = True

    dependencies = [
        ("pot", "0003_permissions"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.CreateModel(
                    name='GameConfig',
                    fields=[
                        ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                        ('signup_grant', models.PositiveIntegerField(default=100, help_text='Credits a new player receives from the house.')),
                        ('price_base', models.PositiveIntegerField(default=5, help_text="Price of a player's first message in the window.", validators=[django.core.validators.MinValueValidator(1)])),
                        ('price_step', models.PositiveIntegerField(default=5, help_text='Added to the price for each message already sent in the window.')),
                        ('pricing_window', models.CharField(choices=[('round', 'Messages in the current pot round'), ('day', 'Messages today'), ('lifetime', 'Messages ever')], default='round', max_length=10)),
                        ('pot_share_percent', models.PositiveSmallIntegerField(default=100, help_text="Part of each price that goes to the pot; the rest is the house's rake.", validators=[django.core.validators.MaxValueValidator(100)])),
                        ('win_chance', models.DecimalField(decimal_places=6, default=Decimal('0.100000'), help_text='Chance that one message wins the pot, in (0, 1].', max_digits=7, validators=[django.core.validators.MinValueValidator(Decimal('0.000001')), django.core.validators.MaxValueValidator(Decimal('1'))])),
                        ('pot_seed', models.PositiveIntegerField(default=0, help_text='Credits the house puts into each new round.')),
                        ('daily_claim', models.PositiveIntegerField(default=50, help_text='Free credits a player can claim once per 24 hours (0: off).')),
                        ('max_message_chars', models.PositiveIntegerField(default=500, help_text='Longer messages are refused before any charge.', validators=[django.core.validators.MinValueValidator(1)])),
                        ('updated_at', models.DateTimeField(default=django.utils.timezone.now)),
                    ],
                    options={
                        'db_table': 'pot_gameconfig',
                        'verbose_name': 'game config',
                        'verbose_name_plural': 'game config',
                        'constraints': [models.CheckConstraint(condition=models.Q(('pk', 1)), name='pot_gameconfig_single_row'), models.CheckConstraint(condition=models.Q(('price_base__gte', 1)), name='pot_gameconfig_price_base_min'), models.CheckConstraint(condition=models.Q(('pot_share_percent__lte', 100)), name='pot_gameconfig_share_max'), models.CheckConstraint(condition=models.Q(('win_chance__gt', 0), ('win_chance__lte', 1)), name='pot_gameconfig_win_chance_range'), models.CheckConstraint(condition=models.Q(('max_message_chars__gte', 1)), name='pot_gameconfig_max_chars_min')],
                    },
                ),
            ],
            database_operations=[],
        ),
    ]
