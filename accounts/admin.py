from django.contrib import admin
from django.contrib.auth.admin import UserAdmin

from .models import User


@admin.register(User)
class PlayerAdmin(UserAdmin):
    fieldsets = [*UserAdmin.fieldsets, ("Fairness", {"fields": ["client_seed", "nonce"]})]
    readonly_fields = ["nonce"]
