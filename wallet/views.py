from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from chatpot_project.errors import ChatPotError

from .selectors import player_account, transfers_of
from .services import claim_daily, next_claim_at

TRANSFERS_PER_PAGE = 20


@require_GET
@login_required
def wallet(request: HttpRequest) -> HttpResponse:
    account = player_account(request.user)
    page = Paginator(transfers_of(account), TRANSFERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "wallet/wallet.html",
        {"account": account, "page": page, "next_claim_at": next_claim_at(account)},
    )


@require_POST
@login_required
def claim(request: HttpRequest) -> HttpResponse:
    try:
        result = claim_daily(player=request.user)
    except ChatPotError as refused:
        messages.error(request, refused.detail)
    else:
        messages.success(request, f"You claimed {result.amount} credits.")
    return redirect("wallet")
