from django.contrib import admin

from chatpot_project.admin import ReadOnlyAdmin

from .models import Account, Transfer


@admin.register(Account)
class AccountAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "owner", "balance", "created_at"]
    list_filter = ["kind"]
    search_fields = ["owner__username"]
    list_select_related = ["owner"]


@admin.register(Transfer)
class TransferAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "kind", "from_account", "to_account", "amount", "memo"]
    list_filter = ["kind"]
    search_fields = ["from_account__owner__username", "to_account__owner__username", "memo"]
    list_select_related = ["from_account__owner", "to_account__owner"]
    raw_id_fields = ["from_account", "to_account", "message", "round", "actor"]
    date_hierarchy = "created_at"
