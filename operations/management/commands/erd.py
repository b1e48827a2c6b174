from django.core.management.base import BaseCommand

from operations.erd import TOUR, mermaid_erd, with_erd


class Command(BaseCommand):
    help = "Print the Mermaid ERD of the models; with --write, update docs/ARCHITECTURE.md."

    def add_arguments(self, parser):
        parser.add_argument(
            "--write", action="store_true", help=f"Replace the ERD block in {TOUR.name}."
        )

    def handle(self, *args, write, **options):
        erd = mermaid_erd()
        if not write:
            self.stdout.write(erd, ending="")
            return
        TOUR.write_text(with_erd(TOUR.read_text(), erd))
        self.stdout.write(f"Updated the ERD in {TOUR}")
