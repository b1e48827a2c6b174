from django.apps import AppConfig


class ChatPotConfig(AppConfig):
    """The project's wiring: last of the apps, so every admin is registered by now."""

    name = "chatpot_project"
    verbose_name = "ChatPot"

    def ready(self) -> None:
        from django.contrib import admin

        from common.admin import offer_only_listed_lookups

        offer_only_listed_lookups(admin.site)
