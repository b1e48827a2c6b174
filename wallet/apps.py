from django.apps import AppConfig


class WalletConfig(AppConfig):
    name = "wallet"

    def ready(self):
        from . import metrics  # noqa: F401 - registers the ledger's figures
