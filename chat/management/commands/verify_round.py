from django.core.management.base import BaseCommand, CommandError

from chat.verification import verify_round
from pot.models import Round


class Command(BaseCommand):
    help = "Recompute every draw of a closed round from its revealed seed; exit 1 on a mismatch."

    def add_arguments(self, parser):
        parser.add_argument("number", type=int, help="The round number.")

    def handle(self, *args, number, **options):
        try:
            pot_round = Round.objects.get(number=number)
        except Round.DoesNotExist:
            raise CommandError(f"There is no round {number}.") from None
        result = verify_round(pot_round)
        for problem in result.problems:
            self.stderr.write(f"MISMATCH: {problem}")
        if not result.ok:
            raise CommandError(f"Round {number}: {len(result.problems)} problem(s) found.")
        self.stdout.write(
            f"Round {number} verified: seed matches its commitment {pot_round.server_seed_hash}; "
            f"{result.draws} draws recomputed, all match."
        )
