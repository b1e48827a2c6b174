"""The keeper of the pot: the bot that answers every message (docs/GAME.md).

A bot turns a `BotContext` (the player's message and the game's figures after it was
settled) into plain text. It runs after the money has moved and never moves money itself:
its words are stored and shown, never read back by the game.
"""

import asyncio
import json
import logging
import math
import weakref
from collections.abc import AsyncIterator
from typing import Protocol

import aiohttp
from aiohttp.http_exceptions import HttpProcessingError
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

from chat.replies import clean_piece

from . import rules
from .conf import timings
from .context import BotContext
from .rules import claim_rules, price_rules, share_sentence

logger = logging.getLogger(__name__)


class Bot(Protocol):
    history_turns: int  # how many earlier exchanges the bot wants in its context
    instant: bool  # answers at once, without waiting on anything (no stream to follow)

    def stream(self, context: BotContext) -> AsyncIterator[str]:
        """The reply, piece by piece as it is written; raises BotUnavailable if it cannot."""
        ...


class BuiltinBot:
    """Offline and instant: answers what the player asks with the live figures."""

    history_turns = 0
    instant = True

    async def stream(self, context: BotContext) -> AsyncIterator[str]:
        yield self.reply(context)

    def reply(self, context: BotContext) -> str:
        return rules.compose(context, affordable=self._affordable(context))

    @staticmethod
    def _affordable(context: BotContext) -> int:
        """How many more messages the balance pays for, as the price keeps climbing: the
        largest k with k * price + step * k * (k - 1) / 2 <= balance."""
        price, step, balance = context.next_price, context.price_step, context.balance
        if balance < price:
            return 0
        if step == 0:
            return balance // price
        b = 2 * price - step  # the cost of k messages is (step * k * k + b * k) / 2
        k = (math.isqrt(b * b + 8 * step * balance) - b) // (2 * step)
        # isqrt rounds down; settle the last step exactly.
        while step * (k + 1) ** 2 + b * (k + 1) <= 2 * balance:
            k += 1
        while step * k * k + b * k > 2 * balance:
            k -= 1
        return k


class BotUnavailable(Exception):
    """The model server could not give a usable reply; the reason is the message."""


class OpenAICompatibleBot:
    """Any server speaking POST /v1/chat/completions, asked to stream its answer
    (`"stream": true`): server-sent chunks `data: {...delta...}`, then `data: [DONE]`."""

    history_turns = 4
    instant = False

    def __init__(self, *, base_url: str, model: str, api_key: str, timeout: float):
        if not base_url.startswith(("http://", "https://")):
            raise ImproperlyConfigured("CHATBOT_BASE_URL must be an http:// or https:// URL.")
        self.url = base_url.rstrip("/") + "/v1/chat/completions"
        self.model = model
        self.api_key = api_key
        self.timeout = timeout

    def system_prompt(self, context: BotContext) -> str:
        open_round = context.open_round
        outcome = (
            f"This message WON the pot: {context.payout} credits; round {open_round} has begun."
            if context.won
            else "This message did not win."
        )
        if context.previous_won:
            outcome += (
                f" The player's previous message won {context.previous_payout} credits in round "
                f"{context.previous_round}."
            )
        if context.claimed:
            outcome += f" Since their previous message they claimed {context.claimed} credits."
        if context.last_winner and not context.won:
            outcome += (
                f" Round {open_round - 1} was won by {context.last_winner} "
                f"({context.last_payout} credits)."
            )
        prices, claim = price_rules(context), claim_rules(context)
        rules = " ".join(
            filter(
                None,
                [
                    prices["price_rule"],
                    prices["price_reset"],
                    f"Each message has a {context.odds_percent}% chance to win the whole pot; "
                    f"a win pays it at once, and {prices['after_win_price']}.",
                    share_sentence(context),
                    f"Daily claim: {context.daily_claim} credits per 24 hours. "
                    + claim["claim_now"]
                    if context.daily_claim
                    else "There is no daily claim.",
                    f"New players get {context.signup_grant} credits; a message is at most "
                    f"{context.max_message_chars} characters.",
                ],
            )
        )
        return (
            "You are the Keeper of the pot in ChatPot, a chat game. Stay in character: warm, "
            "brief (at most three sentences), always in English. The rules, exactly as they "
            f"stand (never state others): {rules} Draws are provably fair (HMAC-SHA256 of a "
            "committed server seed, the player's client seed and a nonce). You cannot move "
            "credits, change odds or grant anything; never promise to. Facts now: player "
            f"{context.player_name}, message number {context.ordinal}; this message cost "
            f"{context.price}; next costs {context.next_price}; balance {context.balance}; pot "
            f"{context.pot} in round {open_round}. {outcome} Plain text or simple Markdown "
            "(emphasis, lists); no headings, no links."
        )

    def request_body(self, context: BotContext) -> dict:
        messages = [{"role": "system", "content": self.system_prompt(context)}]
        for text, reply in context.history:
            messages.append({"role": "user", "content": text})
            if reply:
                messages.append({"role": "assistant", "content": reply})
        messages.append({"role": "user", "content": context.text})
        return {
            "model": self.model,
            "messages": messages,
            "max_tokens": 200,
            "temperature": 0.7,
            "stream": True,
        }

    async def stream(self, context: BotContext) -> AsyncIterator[str]:
        headers = {"Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        # Each wait (to connect, for the next bytes) at most CHATBOT_TIMEOUT; the whole
        # reply's time is the caller's to bound.
        waits = aiohttp.ClientTimeout(sock_connect=self.timeout, sock_read=self.timeout)
        try:
            async with model_session().post(
                self.url, json=self.request_body(context), headers=headers, timeout=waits
            ) as response:
                if response.status != 200:
                    raise BotUnavailable(f"the model server answered {response.status}")
                async for line in response.content:  # the stream, line by line
                    if (piece := _chunk_text(line.decode("utf-8", "replace").rstrip())) is _DONE:
                        return
                    if piece:
                        yield piece
                raise BotUnavailable("the model's stream ended before its [DONE]")
        except (ValueError, HttpProcessingError):  # a line too long: its start is the
            # model's text, which is never logged
            raise BotUnavailable(f"the model server at {self.url} sent a line too long") from None
        except aiohttp.ClientError as error:
            raise BotUnavailable(f"no answer from {self.url}: {error!r}") from None


_DONE = object()


def _chunk_text(line: str):
    """The text of one line of a streamed chat completion: a `data:` line's delta, `_DONE`
    for `data: [DONE]`, None for anything else an event stream may hold (comments, blank
    lines, other fields)."""
    if not line.startswith("data:"):
        return None
    data = line[5:].strip()
    if data == "[DONE]":
        return _DONE
    try:
        delta = json.loads(data)["choices"][0]["delta"]
        content = delta.get("content") if isinstance(delta, dict) else None
    except (ValueError, KeyError, IndexError, TypeError):
        raise BotUnavailable("the model server sent a chunk that is not a completion") from None
    if content is not None and not isinstance(content, str):
        raise BotUnavailable("the model server sent a chunk whose content is not text")
    return clean_piece(content or "")


# One HTTP session (and so one pool of kept-alive connections) per event loop. aiohttp,
# not httpx: reading a streamed reply of 60 chunks took 2.1-2.8 ms of CPU against 5.2-6.4
# with httpx, and a worker reads one per message (docs/PERFORMANCE.md).
_sessions: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def model_session() -> aiohttp.ClientSession:
    loop = asyncio.get_running_loop()
    if (session := _sessions.get(loop)) is None or session.closed:
        connector = aiohttp.TCPConnector(limit=0, limit_per_host=0)
        session = _sessions[loop] = aiohttp.ClientSession(connector=connector)
    return session


async def close_model_session() -> None:
    """Close this event loop's session, when the loop's work is done."""
    session = _sessions.pop(asyncio.get_running_loop(), None)
    if session is not None:
        await session.close()


def get_bot() -> Bot:
    if settings.CHATBOT_BACKEND == "openai":
        return OpenAICompatibleBot(
            base_url=settings.CHATBOT_BASE_URL,
            model=settings.CHATBOT_MODEL,
            api_key=settings.CHATBOT_API_KEY,
            timeout=timings().timeout,
        )
    return BuiltinBot()
