from django.utils.functional import SimpleLazyObject

from game.models import GameConfig
from wallet.models import Account

from .selectors import pot_status


def game_status(request):
    """The pot, the player's balance and the game's rules, queried only if shown."""

    def balance():
        if not request.user.is_authenticated:
            return None
        return Account.objects.filter(owner=request.user).values_list("balance", flat=True).get()

    return {
        "pot": SimpleLazyObject(pot_status),
        "balance": SimpleLazyObject(balance),
        "game": SimpleLazyObject(GameConfig.load),
    }
