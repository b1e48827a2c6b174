from django.contrib.auth.management.commands import createsuperuser
from django.db import transaction

from accounts.models import User
from wallet.services import open_player_account


class Command(createsuperuser.Command):
    help = (
        "Create an operator (a superuser), with a player's account and the signup grant, "
        "as every user has (accounts.services.register_player)."
    )

    def handle(self, *args, **options):
        with transaction.atomic():
            super().handle(*args, **options)
            # Django's command makes the user itself: the account comes with it, or neither.
            for operator in User.objects.filter(account__isnull=True, is_superuser=True):
                open_player_account(user=operator)
