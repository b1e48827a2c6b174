import secrets

from django.contrib.auth.models import AbstractUser
from django.core.validators import RegexValidator
from django.db import models

CLIENT_SEED_MAX_LENGTH = 64
client_seed_validator = RegexValidator(
    r"\A[A-Za-z0-9_-]{1,64}\Z",
    "A client seed is 1 to 64 letters, digits, '-' or '_'.",
)


def new_client_seed() -> str:
    return secrets.token_hex(8)


class User(AbstractUser):
    client_seed = models.CharField(
        max_length=CLIENT_SEED_MAX_LENGTH,
        default=new_client_seed,
        validators=[client_seed_validator],
        help_text="Mixed into every draw; the player may change it (the nonce restarts).",
    )
    nonce = models.PositiveBigIntegerField(
        default=0, help_text="Draws made with the current client seed."
    )
    messages_sent = models.PositiveBigIntegerField(
        default=0, help_text="Messages the player has ever sent (their ordinal)."
    )

    class Meta:
        db_table = "accounts_user"
