import os
import secrets

from django.core.management.base import BaseCommand

from accounts.models import User
from accounts.services import register_operator, register_player
from chat.services import send_message
from common.errors import ChatPotError
from wallet.audit import audit_ledger
from wallet.services import claim_daily, grant_credits

NAMES = ["alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi"]
LINES = [
    "hello keeper!",
    "what are the odds?",
    "how big is the pot now?",
    "is this game fair?",
    "how much does my next message cost?",
    "what's my balance?",
    "thanks, keeper",
    "tell me something nice",
]


class Command(BaseCommand):
    help = (
        "Seed a demo: an operator and a few players with real history (messages, claims, a grant)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--admin-username", default="admin")
        parser.add_argument(
            "--admin-password",
            default=os.environ.get("ADMIN_PASSWORD", ""),
            help="Default: $ADMIN_PASSWORD, or a random one that is printed once.",
        )
        parser.add_argument("--players", type=int, default=4, choices=range(1, len(NAMES) + 1))
        parser.add_argument("--messages", type=int, default=6, help="Messages per player.")

    def handle(self, *args, admin_username, admin_password, players, messages, **options):
        admin = User.objects.filter(username=admin_username).first()
        if admin is None:
            admin_password = admin_password or secrets.token_urlsafe(12)
            admin = register_operator(username=admin_username, email="", password=admin_password)
            self.stdout.write(f"Operator {admin_username!r} created, password: {admin_password}")
        else:
            self.stdout.write(f"Operator {admin_username!r} exists; left as it is.")

        player_password = secrets.token_urlsafe(9)
        created = []
        for name in NAMES[:players]:
            username = f"demo-{name}"
            if User.objects.filter(username=username).exists():
                continue
            created.append(register_player(username=username, password=player_password))
        for index, player in enumerate(created):
            if index % 2 == 0:
                claim_daily(player=player)
            if index == 1:
                grant_credits(player=player, amount=75, actor=admin, memo="Welcome to the demo")
            for turn in range(messages):
                try:
                    send_message(player=player, body=LINES[(index + turn) % len(LINES)])
                except ChatPotError:
                    break  # out of credits: that is part of the game too
        if created:
            names = ", ".join(player.username for player in created)
            self.stdout.write(f"Players created ({names}), password: {player_password}")
        else:
            self.stdout.write("The demo players exist already; nothing added.")
        self.stdout.write(audit_ledger().summary())
