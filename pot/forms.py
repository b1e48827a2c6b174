from decimal import Decimal

from django import forms

from accounts.models import CLIENT_SEED_MAX_LENGTH, client_seed_validator


class VerifyDrawForm(forms.Form):
    """Recompute one roll from the three public inputs of a draw."""

    server_seed = forms.CharField(max_length=128, label="Server seed (revealed)")
    client_seed = forms.CharField(
        max_length=CLIENT_SEED_MAX_LENGTH, validators=[client_seed_validator], label="Client seed"
    )
    nonce = forms.IntegerField(min_value=0, max_value=2**63 - 1, label="Nonce")
    win_chance = forms.DecimalField(
        required=False,
        min_value=Decimal("0.000001"),
        max_value=Decimal(1),
        max_digits=7,
        decimal_places=6,
        label="Win chance (optional)",
    )


class ClientSeedForm(forms.Form):
    client_seed = forms.CharField(
        max_length=CLIENT_SEED_MAX_LENGTH,
        validators=[client_seed_validator],
        label="New client seed",
        help_text="1 to 64 letters, digits, '-' or '_'. Changing it restarts your nonce at 0.",
    )
