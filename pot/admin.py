import logging

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.template.defaultfilters import pluralize
from django.template.response import TemplateResponse
from django.utils import timezone

from common.admin import ReadOnlyAdmin
from common.errors import ChatPotError
from game.models import GameConfig
from wallet.auditing import audit_request

from .models import Round, SeedChain
from .selectors import reset_plan
from .services import reset_round

logger = logging.getLogger(__name__)


@admin.register(GameConfig)
class GameConfigAdmin(admin.ModelAdmin):
    """The game's one row. The form checks every rule (the model's validators and database
    constraints); a saved change applies from the next message."""

    fieldsets = [
        ("Players", {"fields": ["signup_grant", "daily_claim", "max_message_chars"]}),
        ("Price", {"fields": ["price_base", "price_step", "pricing_window"]}),
        ("Pot", {"fields": ["win_chance", "pot_share_percent", "pot_seed"]}),
    ]
    readonly_fields = ["updated_at"]
    list_display = [
        "__str__",
        "win_chance",
        "price_base",
        "price_step",
        "pricing_window",
        "updated_at",
    ]

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @staticmethod
    def changes(form) -> list[tuple[str, object, object]]:
        """(field, old value, new value) for each field the form changed."""
        return [
            (name, form.initial.get(name), form.cleaned_data[name]) for name in form.changed_data
        ]

    def save_model(self, request, obj, form, change):
        obj.updated_at = timezone.now()
        super().save_model(request, obj, form, change)
        if changes := self.changes(form):
            described = ", ".join(f"{name}: {old} -> {new}" for name, old, new in changes)
            logger.info("Game config changed by %s: %s", request.user, described)
            audit_request(reason=f"game config changed by {request.user}")
            self.message_user(request, f"Applies from the next message: {described}.")

    def construct_change_message(self, request, form, formsets, add=False):
        """Keep the old and new values in the admin's history, not just the field names."""
        message = super().construct_change_message(request, form, formsets, add)
        if changes := self.changes(form):
            fields = [f"{name} ({old} -> {new})" for name, old, new in changes]
            message.append({"changed": {"fields": fields}})
        return message


@admin.register(SeedChain)
class SeedChainAdmin(ReadOnlyAdmin):
    """The published seed chains. Their checkpoints, the seeds to come, are shown nowhere
    (docs/GAME.md, "The seed chain"); a new chain is made with manage.py seed_chain."""

    list_display = ["first_round", "last_round", "length", "terminal_hash", "created_at"]
    fields = ["terminal_hash", "first_round", "length", "created_at"]


class ResetForm(forms.Form):
    reason = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=500,
        help_text="Kept with the round and on every refund.",
    )


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
        "reset_by",
        "chain",
    ]
    list_filter = ["outcome"]
    search_fields = ["number", "winner__username", "reset_reason"]
    list_select_related = ["winner", "reset_by", "chain"]
    exclude = ["server_seed"]
    readonly_fields = ["revealed_seed"]
    actions = ["reset_pot"]

    def has_reset_permission(self, request) -> bool:
        return (
            request.user.is_active
            and request.user.is_staff
            and request.user.has_perm("pot.reset_round")
        )

    @admin.action(description="Reset the pot, refunding its contributors", permissions=["reset"])
    def reset_pot(self, request, queryset):
        selected = list(queryset)
        if len(selected) != 1 or not selected[0].is_open:
            self.message_user(
                request, "Select the open round (and only it) to reset.", messages.ERROR
            )
            return None
        pot_round = selected[0]
        form = ResetForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            try:
                plan = reset_round(actor=request.user, reason=form.cleaned_data["reason"])
            except ChatPotError as refused:
                self.message_user(request, refused.detail, messages.ERROR)
                return None
            self.log_change(request, pot_round, f"Reset: {form.cleaned_data['reason']}")
            self.message_user(
                request,
                f"Round {plan.round.number} reset: {plan.amount} credits returned "
                f"({len(plan.refunds)} player{pluralize(len(plan.refunds))} refunded, "
                f"{plan.seed_return} to the house). "
                f"Round {plan.round.number + 1} is open.",
                messages.SUCCESS,
            )
            return None
        plan = reset_plan(pot_round)
        if plan.amount == 0:
            self.message_user(
                request,
                f"The pot of round {pot_round.number} is empty: nothing to reset.",
                messages.ERROR,
            )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": f"Reset the pot of round {pot_round.number}?",
            "opts": self.model._meta,
            "plan": plan,
            "form": form,
            "selected": pot_round.pk,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/pot/round/reset_confirmation.html", context)
