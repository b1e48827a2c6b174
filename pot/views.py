from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition, require_GET, require_POST

from accounts.services import set_client_seed
from common.errors import ChatPotError

from . import fairness
from .forms import ClientSeedForm, VerifyDrawForm
from .selectors import closed_rounds, fairness_facts, pot_status, won_rounds

ROUNDS_PER_PAGE = 20


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "pot/home.html", {"winners": won_rounds()[:5]})


def _pot_etag(request: HttpRequest) -> str:
    request.pot_status = pot_status()
    return request.pot_status.etag


@require_GET
@cache_control(no_cache=True)
@condition(etag_func=_pot_etag)
def pot_figure(request: HttpRequest) -> HttpResponse:
    """The live pot for polling; unchanged, it costs a 304 and no body."""
    response = render(request, "pot/pot_figure.html", {"pot": request.pot_status})
    response["Vary"] = "HX-Request"
    return response


@require_GET
def fairness_page(request: HttpRequest) -> HttpResponse:
    # Its fields' ids are its own: the client seed form on the same page has a client_seed.
    verifier = VerifyDrawForm(
        request.GET if "server_seed" in request.GET else None, auto_id="verify_%s"
    )
    context = {"verifier": verifier, "verified": _verify(verifier)}
    if request.htmx and request.htmx.target == "verifier-result":
        return render(request, "pot/fairness.html#verifier-result", context)
    context["rounds"] = Paginator(closed_rounds(), ROUNDS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    context["facts"] = fairness_facts()
    if request.user.is_authenticated:
        context["seed_form"] = ClientSeedForm(initial={"client_seed": request.user.client_seed})
    return render(request, "pot/fairness.html", context)


def _verify(form: VerifyDrawForm) -> dict | None:
    if not form.is_bound or not form.is_valid():
        return None
    data = form.cleaned_data
    roll = fairness.roll_integer(
        server_seed=data["server_seed"], client_seed=data["client_seed"], nonce=data["nonce"]
    )
    chance = data["win_chance"]
    return {
        "roll": roll / fairness.ROLL_SCALE,
        "roll_integer": roll,
        "seed_hash": fairness.hash_server_seed(data["server_seed"]),
        "win_chance": chance,
        "won": fairness.is_win(roll, chance) if chance is not None else None,
    }


@require_POST
@login_required
def change_client_seed(request: HttpRequest) -> HttpResponse:
    form = ClientSeedForm(request.POST)
    if form.is_valid():
        try:
            set_client_seed(player=request.user, client_seed=form.cleaned_data["client_seed"])
        except ChatPotError as refused:
            messages.error(request, refused.detail)
        else:
            messages.success(request, "Your client seed is changed; your nonce starts again at 0.")
    else:
        messages.error(request, " ".join(form.errors["client_seed"]))
    return redirect("fairness")


@require_GET
def winners(request: HttpRequest) -> HttpResponse:
    page = Paginator(won_rounds(), ROUNDS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "pot/winners.html", {"page": page})
