"""The keeper tells the truth under every setting an operator can choose: the pricing
window (round, day, lifetime), base and step, pot share, the daily claim and whether it is
open now; it answers what a win brings, how many messages were sent, a bare "?", and a
message in another language (keeper.rules)."""

import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chat.models import Message, Reply
from chat.selectors import messages_in_window, price_quote
from chat.services import send_message
from game.models import GameConfig, as_percent
from keeper.bots import BuiltinBot, OpenAICompatibleBot
from keeper.context import bot_contexts
from keeper.selectors import messages_with_what_happened
from keeper.tests.test_rules import STATE
from wallet.models import Account
from wallet.services import claim_daily, next_claim_at

SENT = datetime(2026, 12, 3, 9, 30, tzinfo=UTC)


def replies(text: str, **state) -> list[str]:
    """Every wording the keeper might choose for `text` in `state`."""
    bot = BuiltinBot()
    return [
        bot.reply(replace(STATE, text=text, ordinal=ordinal, sent_at=SENT, **state))
        for ordinal in range(1, 7)
    ]


# (question, window, what every reply must say, what none may say)
WINDOW_CASES = [
    ("when does the price reset?", "round", ["when a round ends", "20"], ["midnight"]),
    ("when does the price reset?", "day", ["midnight (UTC)", "20"], ["again at 5 when"]),
    ("when does the price reset?", "lifetime", ["never", "20"], ["again at 5"]),
    ("why did my price go up?", "round", ["this round", "20"], ["today", "ever sent"]),
    ("why did my price go up?", "day", ["in a day", "3 messages today", "20"], ["in a round"]),
    ("why did my price go up?", "lifetime", ["for good", "20"], ["in a round", "today"]),
    ("how much is my next message?", "day", ["20"], ["in a round", "again at 5 when"]),
    ("how much is my next message?", "lifetime", ["20"], ["in a round", "again at 5"]),
    ("what are the rules?", "day", ["today", "2%"], ["this round", "in a round"]),
    ("what are the rules?", "lifetime", ["ever sent", "2%"], ["this round", "in a round"]),
    ("any tips?", "lifetime", ["2%", "20"], ["in a round", "this round"]),
    ("what happens if I win?", "round", ["345", "5 again", "13"], []),
    ("what happens if I win?", "day", ["345", "today"], ["5 again", "start again at 5"]),
    ("what happens if I win?", "lifetime", ["345", "every message you ever"], ["5 again"]),
    ("how many messages have I sent?", "round", ["3 of them in this round"], ["today"]),
    ("how many messages have I sent?", "day", ["3 of them today"], ["this round"]),
    ("how many messages have I sent?", "lifetime", ["Every one of them"], ["today"]),
]


@pytest.mark.parametrize(("text", "window", "must", "must_not"), WINDOW_CASES)
def test_every_rule_said_is_the_windows_own(text, window, must, must_not):
    # Price 15, next 20 with base and step 5: three messages count, this one included.
    for reply in replies(text, pricing_window=window):
        for fact in must:
            assert fact in reply, (text, window, fact, reply)
        for wrong in must_not:
            assert wrong not in reply, (text, window, wrong, reply)


def test_a_flat_price_is_never_said_to_climb_or_reset():
    for window in ("round", "day", "lifetime"):
        flat = {"pricing_window": window, "price_step": 0, "price": 5, "next_price": 5}
        for text in ("when does the price reset?", "why did my price go up?", "rules?"):
            for reply in replies(text, **flat):
                assert "more than" not in reply, reply
                assert "start again" not in reply, reply
                assert "5" in reply


@pytest.mark.parametrize(
    ("share", "said"),
    [(100, "Every credit"), (80, "80% of each price"), (0, "Prices go to the house")],
)
def test_the_pot_share_is_said_as_set(share, said):
    """Every wording of the rules says where a price goes (none says the pot grows by the
    prices when they go to the house)."""
    for reply in replies("what are the rules?", pot_share_percent=share):
        assert said in reply, reply
        if share == 0:
            assert "the pot grows." not in reply, reply


def test_the_daily_claim_says_where_and_whether_it_is_open_now():
    open_now = replies("how do I claim free credits?")
    assert all("ready now" in reply and "wallet page" in reply for reply in open_now)
    later = replies("how do I claim free credits?", next_claim_at=SENT + timedelta(hours=5))
    assert all("opens in 5 hours (at 14:30 UTC)" in reply for reply in later), later
    soon = replies("can i claim?", next_claim_at=SENT + timedelta(minutes=42))
    assert all("42 minutes" in reply for reply in soon)
    off = replies("can I get free credits?", daily_claim=0)
    assert all("no daily claim" in reply for reply in off)
    assert all("ready" not in reply for reply in off)
    short = replies("what's my balance", balance=10, next_claim_at=SENT + timedelta(hours=2))
    assert all("opens in 2 hours" in reply and "ready" not in reply for reply in short)


@pytest.mark.parametrize("text", ["?", "??", " ? ", "...?"])
def test_a_bare_question_mark_gets_a_menu(text):
    for reply in replies(text):
        assert "price" in reply
        assert "odds" in reply
        assert "20" in reply
        assert "beyond me" not in reply


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("combien coûte mon prochain message ?", "je ne parle qu'anglais"),
        ("Bonjour ! Quel est le prix ?", "je ne parle qu'anglais"),
        ("¿Cuánto cuesta mi próximo mensaje?", "solo hablo inglés"),
        ("hola, cuánto tengo?", "solo hablo inglés"),
        ("Wie viel kostet meine nächste Nachricht?", "nur Englisch"),
        ("Hallo, ich habe eine Frage", "nur Englisch"),
        ("Сколько стоит сообщение?", "I only speak English"),
        ("次のメッセージはいくらですか", "I only speak English"),
    ],
)
def test_another_language_is_told_the_keeper_speaks_english_with_the_price(text, said):
    for reply in replies(text):
        assert said in reply
        assert "20" in reply


@pytest.mark.parametrize(
    "text",
    [
        "what is the price la la la",
        "i like the pot, el capitan",
        "hola! how much is the pot",
        "das boot is a film, whats my balance",
    ],
)
def test_english_with_a_foreign_word_is_still_english(text):
    for reply in replies(text):
        assert "speak" not in reply


def test_the_models_prompt_says_the_same_rules():
    for window, said, unsaid in [
        ("round", "when a round ends", "midnight"),
        ("day", "at midnight", "when a round ends,"),
        ("lifetime", "never start again", "when a round ends,"),
    ]:
        bot = OpenAICompatibleBot(
            base_url="http://127.0.0.1:9", model="keeper", api_key="", timeout=1
        )
        prompt = bot.system_prompt(
            replace(STATE, pricing_window=window, sent_at=SENT, daily_claim=0)
        )
        assert said in prompt
        assert unsaid not in prompt
        assert "There is no daily claim." in prompt
        assert "at most 500 characters" in prompt


# -- every figure the keeper states, against the engine -------------------------------------

QUESTIONS = {
    "price": "how much is my next message?",
    "reset": "when does the price reset?",
    "odds": "what are my odds?",
    "pot": "how big is the pot?",
    "claim": "when can I claim free credits?",
    "count": "how many messages have I sent?",
}


@pytest.mark.django_db
@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    window=st.sampled_from(GameConfig.PricingWindow.values),
    base=st.integers(1, 50),
    step=st.integers(0, 20),
    share=st.integers(0, 100),
    chance=st.decimals("0.000001", "0.5", places=6),
    daily=st.sampled_from([0, 25, 50]),
    sends=st.integers(1, 4),
    claims=st.booleans(),
)
def test_every_figure_the_keeper_states_is_the_engines(
    make_player, configure, window, base, step, share, chance, daily, sends, claims
):
    config = configure(
        pricing_window=window,
        price_base=base,
        price_step=step,
        pot_share_percent=share,
        win_chance=chance,
        daily_claim=daily,
        signup_grant=10_000,
    )
    player = make_player()
    if claims and daily:
        claim_daily(player=player)
    for _ in range(sends):
        message = send_message(player=player, body="hello").message
    [context] = bot_contexts(
        list(messages_with_what_happened([message.pk])),
        {message.pk: Reply.objects.get(pk=message.pk).ordinal},
        history_turns=0,
    ).values()
    quote = price_quote(player=player)
    account = Account.objects.get(owner=player)
    said = {
        name: BuiltinBot().reply(replace(context, text=text)) for name, text in QUESTIONS.items()
    }
    # The price, the next price, the odds and the pot are the engine's.
    assert context.next_price == quote.price
    assert mentions(said["price"], quote.price)
    assert f"{as_percent(config.win_chance)}%" in said["odds"]
    assert context.pot == quote.pot
    assert mentions(said["pot"], quote.pot)
    # The messages counted towards the price are the engine's count.
    counted = messages_in_window(player=player, config=config, pot_round=quote_round(quote))
    assert context.ordinal == sends
    assert f"number {sends}" in said["count"] or f"sent {sends} messages" in said["count"]
    if step:
        assert context.counted_in_window == counted
        if window != "lifetime":
            assert f" {counted} of them" in said["count"]
    # The moment prices start again is the window's, and only it.
    resets = {
        "round": f"again at {base} when a round ends",
        "day": f"again at {base} at midnight",
        "lifetime": "never start again",
    }
    for name, phrase in resets.items():
        assert (phrase in said["reset"]) == (name == window and bool(step)), said["reset"]
    # The claim: open now, or when it opens, as the wallet has it.
    opens = next_claim_at(account)
    if not daily:
        assert "no daily claim" in said["claim"]
    elif opens is None:
        assert "ready now" in said["claim"]
    else:
        local = opens.astimezone(UTC).strftime("%H:%M")
        assert f"at {local} UTC" in said["claim"]


def mentions(text: str, figure: int) -> bool:
    """The figure, said as a number of its own (not inside another)."""
    return re.search(rf"(?<![\d.]){figure}(?![\d%])", text) is not None


def quote_round(quote):
    from pot.selectors import open_round

    current = open_round()
    assert current.number == quote.round_number
    return current


def test_the_keeper_reads_what_it_is_asked_to_recall_or_check(player, configure):
    """Only a message that asks for them reads the player's earlier messages, and its
    reply names what they were and how their draws went."""
    configure(win_chance=Decimal("0.000001"), price_step=0)
    for body in ["my first words", "my second words", "my third words"]:
        send_message(player=player, body=body)

    def context_of(text: str):
        message = send_message(player=player, body=text).message
        [context] = bot_contexts(
            list(messages_with_what_happened([message.pk])),
            {message.pk: Reply.objects.get(pk=message.pk).ordinal},
            history_turns=0,
        ).values()
        return context

    plain = context_of("hello")
    assert (plain.history, plain.asked_about) == ([], None)
    recalling = context_of("what did I say two messages ago?")
    assert '"my third words"' in BuiltinBot().reply(recalling)  # "hello" was the last
    checking = context_of("how do I verify my message 2?")
    second = Message.objects.filter(player=player).order_by("pk")[1]
    facts = checking.asked_about
    assert (facts.number, facts.client_seed, facts.nonce) == (2, second.client_seed, 1)
    assert facts.server_seed == ""  # round 1 is open: its seed stays secret
    assert "still open" in BuiltinBot().reply(checking)
