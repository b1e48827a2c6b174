from uuid import uuid4

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_GET, require_POST

from api.throttling import limit
from common.errors import ChatPotError
from common.paging import before_key
from common.streaming import streamed
from wallet.selectors import player_account
from wallet.services import next_claim_at
from wallet.views import claim_with_notice

from . import transcripts
from .selectors import conversation_page, player_message, price_quote, with_text_so_far
from .services import reply_stop, send_message

WIN_SESSION_KEY = "chatpot_win_message"


def _composer_context(request: HttpRequest, **extra) -> dict:
    """What the composer shows: the quote, a fresh idempotency key, the claim offer."""
    quote = price_quote(player=request.user)
    context = {"quote": quote, "idempotency_key": uuid4().hex, **extra}
    if not quote.affordable:
        due = next_claim_at(player_account(request.user))
        context.update(claim_available=due is None, next_claim_at=due)
    return context


@require_GET
@login_required
def chat(request: HttpRequest) -> HttpResponse:
    # A win just sent without JavaScript: its card is celebrated once, on this load.
    fresh_win = request.session.pop(WIN_SESSION_KEY, None)
    page = conversation_page(player=request.user, before=before_key(request))
    with_text_so_far(page.messages)
    return render(
        request, "chat/chat.html", _composer_context(request, page=page, fresh_win=fresh_win)
    )


@require_GET
@login_required
def older(request: HttpRequest) -> HttpResponse:
    page = conversation_page(player=request.user, before=before_key(request))
    with_text_so_far(page.messages)
    return render(request, "chat/chat.html#older", {"page": page})


@require_POST
@login_required
def send(request: HttpRequest) -> HttpResponse:
    body = request.POST.get("body", "")
    try:
        limit("send", str(request.user.pk))  # counted with the player's API sends
        result = send_message(
            player=request.user,
            body=body,
            idempotency_key=request.POST.get("idempotency_key") or None,
        )
    except ChatPotError as refused:
        return _refused(request, refused, body)

    fresh_win = result.message.pk if result.won else None
    if not request.htmx:
        if fresh_win is not None:
            request.session[WIN_SESSION_KEY] = fresh_win
        return redirect("chat")
    context = _composer_context(request, result=result, fresh_win=fresh_win, oob=True)
    response = render(request, "chat/chat.html#sent", context)
    # After the settle, so the new exchange is on the page when the client reacts.
    response["HX-Trigger-After-Settle"] = "chatpot:sent"
    return response


# A refused text is given back up to the limit and this much beyond it: enough to trim
# what went over, never a whole oversized body echoed back into the page.
KEPT_BEYOND_LIMIT = 1000


def _refused(request: HttpRequest, refused: ChatPotError, body: str) -> HttpResponse:
    """Nothing was charged: say why, once, and keep what the player wrote."""
    context = _composer_context(request, error=refused.detail)
    context["body"] = body[: context["quote"].max_message_chars + KEPT_BEYOND_LIMIT]
    # Out of credits: the quote line already says what it costs and what they have.
    context["quote_says_it"] = (
        refused.code == "insufficient_funds" and not context["quote"].affordable
    )
    if request.htmx:
        # 200, so htmx applies the out-of-band updates; the conversation is left as it was.
        response = render(request, "chat/chat.html#refused", {**context, "oob": True})
    else:
        context["page"] = conversation_page(player=request.user)
        with_text_so_far(context["page"].messages)
        response = render(request, "chat/chat.html", context, status=refused.status)
    for name, value in refused.headers().items():
        response[name] = value
    return response


@require_POST
@login_required
def claim(request: HttpRequest) -> HttpResponse:
    """The daily claim offered by the composer when funds run short."""
    notice, level = claim_with_notice(request)
    if not request.htmx:
        messages.add_message(request, level, notice)
        return redirect("chat")
    context = _composer_context(
        request, notice=notice, notice_level=messages.DEFAULT_TAGS[level], oob=True
    )
    return render(request, "chat/chat.html#claimed", context)


@require_GET
@login_required
def quote(request: HttpRequest) -> HttpResponse:
    """The composer's figures again, for a page told that the pot or the round changed.
    The fields (and so what the player is typing) are redrawn only when they are off, or
    must be: the next message is out of reach."""
    context = _composer_context(request, oob=True)
    context["refresh_fields"] = (
        request.GET.get("fields") == "off" or not context["quote"].affordable
    )
    return render(request, "chat/chat.html#quote", context)


@require_GET
@login_required
def exchange(request: HttpRequest, message_id: int) -> HttpResponse:
    """One message and its reply as the conversation shows them, for another tab of the
    player's: what is sent from one tab appears in all of them."""
    message = player_message(player=request.user, message_id=message_id)
    if message is None:
        raise Http404
    with_text_so_far([message])
    return render(request, "chat/chat.html#exchange", {"message": message})


@require_GET
@login_required
def reply(request: HttpRequest, message_id: int) -> HttpResponse:
    """One reply as the conversation shows it, for a page that followed it being written."""
    message = player_message(player=request.user, message_id=message_id)
    if message is None:
        raise Http404
    with_text_so_far([message])
    return render(request, "chat/chat.html#reply", {"message": message})


@require_POST
@login_required
def stop(request: HttpRequest, message_id: int) -> HttpResponse:
    """Stop the keeper's reply to one of the player's messages (Stop, or Esc)."""
    message = player_message(player=request.user, message_id=message_id)
    if message is None:
        raise Http404
    reply_stop(message=message)
    if request.htmx:
        return HttpResponse(status=204)  # the reply's stream shows the end
    return redirect("chat")


@require_GET
def transcript_csv(request: HttpRequest, number: int) -> HttpResponse:
    """A closed round's messages as a spreadsheet's CSV, in settlement order (the API's
    transcript holds the same, with the round's seeds)."""
    pot_round = transcripts.closed_round(number)
    if pot_round is None:
        raise Http404(transcripts.missing(number))
    viewer = request.user.pk if request.user.is_authenticated else None
    response = streamed(
        request, transcripts.as_csv(pot_round, viewer_id=viewer), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="round-{number}.csv"'
    return response
