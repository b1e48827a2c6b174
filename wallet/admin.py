from django.contrib import admin

from common.admin import ReadOnlyAdmin

from .models import Account, LedgerAudit, Transfer


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


@admin.register(LedgerAudit)
class LedgerAuditAdmin(ReadOnlyAdmin):
    """Every run of the ledger's audit: on schedule and after each operator action on money
    or fairness (wallet.auditing). The latest is on the admin's index too."""

    list_display = ["id", "requested_at", "reason", "finished_at", "clean", "summary"]
    list_filter = ["clean"]
    search_fields = ["reason"]
    ordering = ["-id"]
