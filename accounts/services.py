from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q

from wallet.services import lock_accounts

from .errors import ClientSeedInvalid
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
    lock_accounts(Q(owner=player))
    player.client_seed = client_seed
    player.nonce = 0
    player.save(update_fields=["client_seed", "nonce"])
    return player
