from django.contrib import admin

from common.admin import ReadOnlyAdmin

from .models import Message, Reply


@admin.register(Message)
class MessageAdmin(ReadOnlyAdmin):
    list_display = ["id", "created_at", "player", "round", "price", "won", "payout"]
    list_filter = ["won"]
    search_fields = ["player__username", "body"]
    list_select_related = ["player", "round"]
    raw_id_fields = ["player", "round"]
    date_hierarchy = "created_at"


@admin.register(Reply)
class ReplyAdmin(ReadOnlyAdmin):
    """The keeper's replies, and the workers' queue: those waiting, those being written
    (by which attempt, leased until when). Written only by the workers and the players."""

    list_display = ["message", "status", "attempt", "lease_until"]
    list_filter = ["status"]
    search_fields = ["message__player__username", "text"]
    list_select_related = ["message"]
    raw_id_fields = ["message"]
