from django.contrib import admin

from chatpot_project.admin import ReadOnlyAdmin

from .models import Reply


@admin.register(Reply)
class ReplyAdmin(ReadOnlyAdmin):
    """The keeper's replies, and the workers' queue: those waiting, those being written
    (by which attempt, leased until when). Written only by the workers and the players."""

    list_display = ["message", "status", "attempt", "lease_until"]
    list_filter = ["status"]
    search_fields = ["message__player__username", "text"]
    list_select_related = ["message"]
    raw_id_fields = ["message"]
