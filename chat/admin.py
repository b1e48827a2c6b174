from django.contrib import admin

from chatpot_project.admin import ReadOnlyAdmin

from .models import Message


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "player", "round", "price", "won", "payout"]
    list_filter = ["won"]
    search_fields = ["player__username", "body"]
    list_select_related = ["player", "round"]
    raw_id_fields = ["player", "round"]
    date_hierarchy = "created_at"
