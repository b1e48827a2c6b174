import logging

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from wallet.auditing import audit_request
from wallet.services import lock_accounts, open_player_account

from .errors import ClientSeedInvalid, UsernameTaken
from .models import User, client_seed_validator, new_client_seed

logger = logging.getLogger(__name__)


@transaction.atomic(durable=True)
def set_client_seed(
    *, player: User, client_seed: str, actor: User | None = None, reason: str = ""
) -> User:
    """Change the seed the player mixes into their draws; their nonce restarts at 0. The
    player's own choice, or an operator's (`actor`), who says why: logged, and the
    ledger's audit asked for."""
    return _set_client_seed(player=player, client_seed=client_seed, actor=actor, reason=reason)


@transaction.atomic(durable=True)
def set_client_seeds(
    *, players: list[User], client_seed: str | None, actor: User, reason: str
) -> list[str]:
    """An operator's new client seed for each of `players` (the one given, or a random one
    each): all of them, or none. The seeds set, in the players' order."""
    return [
        _set_client_seed(
            player=player, client_seed=client_seed or new_client_seed(), actor=actor, reason=reason
        ).client_seed
        for player in players
    ]


def _set_client_seed(*, player: User, client_seed: str, actor: User | None, reason: str) -> User:
    client_seed = (client_seed or "").strip()
    try:
        client_seed_validator(client_seed)
    except ValidationError as invalid:
        raise ClientSeedInvalid(invalid.messages[0]) from None
    if actor is not None:
        reason = (reason or "").strip()
        if not reason:
            raise ClientSeedInvalid("Say why the player's client seed is changed.")
        logger.info(
            "Client seed of %s (#%s) set by %s: %s", player.username, player.pk, actor, reason
        )
        audit_request(reason=f"client seed of {player.username} set by {actor}")
    # Sends advance the nonce under the player's account lock; take it too.
    lock_accounts(owners=[player.pk])
    player.client_seed = client_seed
    player.nonce = 0
    player.save(update_fields=["client_seed", "nonce"])
    return player


@transaction.atomic
def register_player(*, username: str, password: str | None, **fields) -> User:
    """A new player: the user, their account and the signup grant, all or nothing. Every
    way of making a user comes here: the sign-up page and API, `register_operator`
    (`createsuperuser`, `seed_demo`), the tests' factory; the admin's add form opens the
    account of the user it saved (`wallet.services.open_player_account`)."""
    if User.objects.filter(username__iexact=username).exists():
        raise UsernameTaken()
    try:
        with transaction.atomic():  # the same name registered a moment ago fails alone
            player = User.objects.create_user(username=username, password=password, **fields)
    except IntegrityError:
        raise UsernameTaken() from None
    open_player_account(user=player)
    return player


def register_operator(*, username: str, password: str | None, email: str = "") -> User:
    """An operator: a superuser, with a player's account like every user."""
    return register_player(
        username=username, password=password, email=email, is_staff=True, is_superuser=True
    )
