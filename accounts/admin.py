from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group
from django.template.response import TemplateResponse
from rest_framework_simplejwt.token_blacklist import admin as _registers_token_admins  # noqa: F401
from rest_framework_simplejwt.token_blacklist.models import BlacklistedToken, OutstandingToken

from common.admin import ReadOnlyAdmin
from common.errors import ChatPotError
from wallet.services import grant_credits, open_player_account

from .models import CLIENT_SEED_MAX_LENGTH, User, client_seed_validator
from .services import set_client_seeds

# Who may do what in the admin: only superusers hand out powers.
PRIVILEGE_FIELDS = ["is_staff", "is_superuser", "groups", "user_permissions"]


# The game's fairness and money state: read-only in every form, superusers included. It
# changes only through the game's own services (a new client seed: the action below).
GAME_STATE_FIELDS = ["client_seed", "nonce", "messages_sent", "balance"]


class ClientSeedForm(forms.Form):
    client_seed = forms.CharField(
        max_length=CLIENT_SEED_MAX_LENGTH,
        required=False,
        validators=[client_seed_validator],
        help_text="Blank: a new random seed for each player.",
    )
    reason = forms.CharField(
        max_length=200, help_text="Why: kept in the admin's history and the log."
    )


class GrantForm(forms.Form):
    amount = forms.IntegerField(min_value=1, max_value=1_000_000, help_text="Credits per player.")
    memo = forms.CharField(max_length=200, help_text="Why: the players see it in their wallet.")


@admin.register(User)
class PlayerAdmin(UserAdmin):
    fieldsets = [
        *UserAdmin.fieldsets,
        ("Game", {"fields": ["client_seed", "nonce", "messages_sent", "balance"]}),
    ]
    readonly_fields = [*GAME_STATE_FIELDS, "last_login", "date_joined"]
    list_display = ["username", "balance", "messages_sent", "is_active", "is_staff", "date_joined"]
    list_select_related = ["account"]
    actions = ["grant_credits_action", "set_client_seed_action"]

    @admin.display(description="Balance", ordering="account__balance")
    def balance(self, user: User) -> int | None:
        return user.account.balance if hasattr(user, "account") else None

    def has_delete_permission(self, request, obj=None):
        # A player's account and transfers are history; deactivate instead of deleting.
        return False

    def has_change_permission(self, request, obj=None):
        """Staff who are not superusers change players only: never an operator's account,
        whose password they could otherwise set (and so act as that operator)."""
        if (
            obj is not None
            and not request.user.is_superuser
            and (obj.is_staff or obj.is_superuser)
        ):
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        fields = [*super().get_readonly_fields(request, obj)]
        if not request.user.is_superuser:
            fields += [name for name in PRIVILEGE_FIELDS if name not in fields]
        return fields

    def save_model(self, request, obj, form, change):
        # The admin's add form saves the user directly; every user still gets an account.
        super().save_model(request, obj, form, change)
        if not change:
            open_player_account(user=obj)

    def has_grant_permission(self, request) -> bool:
        return request.user.is_staff and request.user.has_perm("wallet.grant_credits")

    @admin.action(description="Grant credits from the house", permissions=["grant"])
    def grant_credits_action(self, request, queryset):
        players = list(queryset.order_by("pk"))
        form = GrantForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            amount, memo = form.cleaned_data["amount"], form.cleaned_data["memo"]
            for player in players:
                try:
                    grant_credits(player=player, amount=amount, actor=request.user, memo=memo)
                except ChatPotError as refused:
                    self.message_user(request, f"{player}: {refused.detail}", messages.ERROR)
                    return None
                self.log_change(request, player, f"Granted {amount} credits: {memo}")
            self.message_user(
                request, f"Granted {amount} credits to {len(players)} player(s).", messages.SUCCESS
            )
            return None
        return self._action_form(request, "grant_credits", "Grant credits", players, form)

    def has_set_seed_permission(self, request) -> bool:
        return request.user.is_staff and request.user.has_perm("accounts.change_user")

    @admin.action(
        description="Set a new client seed (restarts the nonce)", permissions=["set_seed"]
    )
    def set_client_seed_action(self, request, queryset):
        players = list(queryset.order_by("pk"))
        form = ClientSeedForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            chosen, reason = form.cleaned_data["client_seed"], form.cleaned_data["reason"]
            # All of them, or none: one not this operator's to change refuses the lot.
            refused = [
                player for player in players if not self.has_change_permission(request, player)
            ]
            if refused:
                names = ", ".join(player.username for player in refused)
                self.message_user(
                    request,
                    f"Nothing was changed: {names} not yours to change.",
                    messages.ERROR,
                )
                return None
            try:
                seeds = set_client_seeds(
                    players=players, client_seed=chosen or None, actor=request.user, reason=reason
                )
            except ChatPotError as invalid:
                self.message_user(
                    request, f"Nothing was changed: {invalid.detail}", messages.ERROR
                )
                return None
            for player, seed in zip(players, seeds, strict=True):
                self.log_change(request, player, f"Client seed set to {seed}: {reason}")
            names = ", ".join(player.username for player in players)
            self.message_user(
                request,
                f"New client seed for {len(players)} player(s) ({names}); their nonces "
                "restart at 0.",
                messages.SUCCESS,
            )
            return None
        return self._action_form(
            request, "set_client_seed", "Set a new client seed", players, form
        )

    def _action_form(self, request, action: str, title: str, players, form) -> TemplateResponse:
        """An action's form, for the players selected; sent again with `confirm`."""
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "opts": self.model._meta,
            "players": players,
            "form": form,
            "action": f"{action}_action",
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, f"admin/accounts/user/{action}.html", context)


# django.contrib.auth.admin, imported above, has registered it whatever the app order.
admin.site.unregister(Group)


@admin.register(Group)
class OperatorGroupAdmin(GroupAdmin):
    """A group is a set of powers: only superusers make or change one."""

    def has_add_permission(self, request):
        return request.user.is_superuser

    def has_change_permission(self, request, obj=None):
        return request.user.is_superuser

    def has_delete_permission(self, request, obj=None):
        return request.user.is_superuser


# simplejwt's own admin shows each refresh token whole: a credential anyone who may view
# the table could use. Operators see who holds tokens and until when, never the tokens.
# simplejwt's admin module, imported above, has registered them whatever the app order.
admin.site.unregister(OutstandingToken)
admin.site.unregister(BlacklistedToken)


@admin.register(OutstandingToken)
class IssuedTokenAdmin(ReadOnlyAdmin):
    fields = ["jti", "user", "created_at", "expires_at", "revoked"]
    readonly_fields = fields
    list_display = ["jti", "user", "created_at", "expires_at", "revoked"]
    list_select_related = ["user", "blacklistedtoken"]
    search_fields = ["user__username", "jti"]
    ordering = ["-created_at"]

    @admin.display(boolean=True, description="Revoked")
    def revoked(self, token: OutstandingToken) -> bool:
        return hasattr(token, "blacklistedtoken")


@admin.register(BlacklistedToken)
class RevokedTokenAdmin(ReadOnlyAdmin):
    fields = ["jti", "user", "blacklisted_at"]
    readonly_fields = fields
    list_display = ["jti", "user", "blacklisted_at"]
    list_select_related = ["token__user"]
    search_fields = ["token__user__username", "token__jti"]
    ordering = ["-blacklisted_at"]

    @admin.display(description="jti", ordering="token__jti")
    def jti(self, revoked: BlacklistedToken) -> str:
        return revoked.token.jti

    @admin.display(description="user", ordering="token__user")
    def user(self, revoked: BlacklistedToken):
        return revoked.token.user
