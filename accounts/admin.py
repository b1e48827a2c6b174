from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from wallet.services import open_player_account

from .models import User


@admin.register(User)
class PlayerAdmin(UserAdmin):
    fieldsets = [
        *UserAdmin.fieldsets,
        ("Game", {"fields": ["client_seed", "nonce", "messages_sent"]}),
    ]
    readonly_fields = ["nonce", "messages_sent"]

    def save_model(self, request, obj, form, change):
        # The admin's add form saves the user directly; every user still gets an account.
        super().save_model(request, obj, form, change)
        if not change:
            open_player_account(user=obj)
