from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from wallet.services import lock_accounts

from .errors import ClientSeedInvalid, UsernameTaken
from .models import User, client_seed_validator


@transaction.atomic(durable=True)
def set_client_seed(*, player: User, client_seed: str) -> User:
    """Change the seed the player mixes into their draws; their nonce restarts at 0."""
    client_seed = (client_seed or "").strip()
    try:
        client_seed_validator(client_seed)
    except ValidationError as invalid:
        raise ClientSeedInvalid(invalid.messages[0]) from None
    # Sends advance the nonce under the player's account lock; take it too.
    lock_accounts(owners=[player.pk])
    player.client_seed = client_seed
    player.nonce = 0
    player.save(update_fields=["client_seed", "nonce"])
    return player


def register_player(*, username: str, password: str) -> User:
    """A new player: the user, their account and the signup grant, in one transaction."""
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken()
    try:
        return User.objects.create_user(username=username, password=password)
    except IntegrityError:  # the same name registered a moment ago
        raise UsernameTaken() from None
