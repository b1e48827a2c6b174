from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from common.errors import ChatPotError
from common.paging import before_key

from .selectors import player_account, transfer_history
from .services import claim_daily, next_claim_at

TRANSFERS_PER_PAGE = 20


@require_GET
@login_required
def wallet(request: HttpRequest) -> HttpResponse:
    account = player_account(request.user)
    before = before_key(request)
    page = transfer_history(account=account, before=before, size=TRANSFERS_PER_PAGE)
    return render(
        request,
        "wallet/wallet.html",
        {
            "account": account,
            "page": page,
            "first_page": before is None,
            "next_claim_at": next_claim_at(account),
        },
    )


def claim_with_notice(request: HttpRequest) -> tuple[str, int]:
    """Claim for the signed-in player: what to tell them, and the message level."""
    try:
        result = claim_daily(player=request.user)
    except ChatPotError as refused:
        return refused.detail, messages.ERROR
    return f"You claimed {result.amount} credits.", messages.SUCCESS


@require_POST
@login_required
def claim(request: HttpRequest) -> HttpResponse:
    notice, level = claim_with_notice(request)
    messages.add_message(request, level, notice)
    return redirect("wallet")
