from django.core.management.base import BaseCommand, CommandError

from wallet.audit import audit_ledger


class Command(BaseCommand):
    help = "Check the ledger's invariants; exit 1 with a report if any is breached."

    def handle(self, *args, **options):
        report = audit_ledger()
        if not report.clean:
            for breach in report.breaches:
                self.stderr.write(f"BREACH: {breach}")
            raise CommandError(report.summary())
        self.stdout.write(report.summary())
