from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from pot.services import start_chain


class Command(BaseCommand):
    help = (
        "Make a new seed chain and publish its terminal hash: the rounds from the second "
        "after the open one take their seeds from it (docs/OPERATIONS.md, 'The seed chain')."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--length",
            type=int,
            default=settings.SEED_CHAIN_LENGTH,
            help="Seeds in the chain, one per round (default SEED_CHAIN_LENGTH, %(default)s).",
        )

    def handle(self, *args, length, **options):
        if not 1 <= length <= 2**31 - 1:
            raise CommandError("A chain holds from 1 to 2,147,483,647 seeds.")
        self.stdout.write(f"Making a chain of {length:,} seeds...")
        chain = start_chain(length=length)
        self.stdout.write(
            f"Seed chain made. Terminal hash: {chain.terminal_hash}\n"
            f"It gives its seeds to rounds {chain.first_round:,} to {chain.last_round:,}; "
            "the fairness page and GET /api/v1/fairness publish it."
        )
