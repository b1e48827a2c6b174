from django.contrib import admin

from chatpot_project.admin import ReadOnlyAdmin

from .models import GameConfig, Round


@admin.register(GameConfig)
class GameConfigAdmin(admin.ModelAdmin):
    exclude = ["updated_at"]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Round)
class RoundAdmin(ReadOnlyAdmin):
    list_display = [
        "number",
        "outcome",
        "opened_at",
        "closed_at",
        "winner",
        "payout",
        "message_count",
    ]
    list_filter = ["outcome"]
    search_fields = ["winner__username"]
    list_select_related = ["winner"]
    exclude = ["server_seed"]
    readonly_fields = ["revealed_seed"]
