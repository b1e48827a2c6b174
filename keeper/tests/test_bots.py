import itertools
from dataclasses import replace
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from chat.replies import clean_reply
from chat.services import send_message
from keeper.bots import BuiltinBot
from keeper.context import BotContext
from wallet.services import claim_daily

CONTEXT = BotContext(
    player_name="ada",
    text="hello",
    ordinal=7,
    price=15,
    next_price=20,
    balance=70,
    pot=345,
    round_number=12,
    won=False,
    payout=0,
    win_chance=Decimal("0.1"),
    price_base=5,
    price_step=5,
    pot_share_percent=100,
    daily_claim=50,
    server_seed_hash="abcdef0123456789" * 4,
)

bot = BuiltinBot()


def reply_to(text: str, **changes) -> str:
    return bot.reply(replace(CONTEXT, text=text, **changes))


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("hello", ["ada", "345"]),
        ("what are the rules?", ["10%"]),
        ("what are my odds", ["10%"]),
        ("how much does a message cost?", ["20"]),
        ("what's my balance?", ["70"]),
        ("how big is the pot?", ["345"]),
        ("is it fair?", ["abcdef012345"]),
        ("how do I get free credits?", ["50"]),
        ("thank you", ["10%", "345"]),
    ],
)
def test_answers_with_the_live_figures(text, figures):
    answer = reply_to(text)
    for figure in figures:
        assert figure in answer, (figure, answer)


def test_each_intent_reads_its_figures_in_every_line():
    seen = set()
    for ordinal in range(1, 5):
        answer = reply_to("what are my odds", ordinal=ordinal)
        assert "10%" in answer
        seen.add(answer)
    assert len(seen) >= 2


def test_fairness_answer_points_at_the_commitment_or_the_verifier():
    answers = {reply_to("is it fair?", ordinal=n) for n in range(3)}
    assert any("abcdef012345" in a for a in answers)
    assert all("fair" in a.lower() for a in answers)


def test_rules_mention_the_rake_when_there_is_one():
    assert any(
        "60% of each price goes into the pot"
        in reply_to("rules?", ordinal=n, pot_share_percent=60)
        for n in range(3)
    )


def test_reacts_to_a_win_with_the_payout():
    answer = reply_to("hello", won=True, payout=345, pot=0)
    assert "345" in answer
    assert any(word in answer for word in ["won", "Jackpot", "yours"])


def test_falls_back_sensibly_for_small_talk():
    """What the keeper cannot answer, it says so, and gives the pot instead (every wording)."""
    for ordinal in range(3):
        answer = reply_to("do you like dragons?", ordinal=ordinal)
        assert "345 credits" in answer, answer


def test_same_input_and_state_give_the_same_reply():
    assert reply_to("what are the odds?") == reply_to("what are the odds?")


def test_never_the_same_line_twice_in_a_row():
    for text in ["what are the odds?", "hello", "pot?", "blah", "thanks"]:
        replies = [reply_to(text, ordinal=n) for n in range(1, 30)]
        assert all(a != b for a, b in itertools.pairwise(replies)), text


def test_replies_are_plain_and_bounded():
    assert clean_reply("  hi\x00 there\x07 ") == "hi there"
    assert len(clean_reply("x" * 5000)) == 1000


@pytest.mark.django_db
def test_sent_messages_get_the_keepers_reply_with_live_figures(player, configure, replies):
    def reply(result) -> str:
        replies()
        result.message.reply.refresh_from_db()
        assert result.message.reply.status == "done"
        return result.message.reply.text

    configure(win_chance=Decimal("0.000001"))
    assert "95" in reply(send_message(player=player, body="what's my balance?"))
    answers = [reply(send_message(player=player, body="how big is the pot?")) for _ in range(3)]
    assert "15" in answers[0]  # 5 + 10 in the pot
    assert answers[0] != answers[1] != answers[2]
    configure(win_chance=Decimal(1))
    won = send_message(player=player, body="hello")
    assert str(won.payout) in reply(won)


def test_the_keeper_answers_many_messages_together_each_with_its_own_figures(
    make_player, configure, replies, django_assert_max_num_queries
):
    configure(win_chance=Decimal("0.000001"))
    players = [make_player() for _ in range(5)]
    sent = [send_message(player=p, body="what's my balance?") for p in players for _ in range(2)]
    with django_assert_max_num_queries(8):  # together, not a few queries per reply
        replies()
    for result in sent:
        result.message.reply.refresh_from_db()
        assert str(result.balance) in result.message.reply.text
        assert result.message.reply.attempt == 1


def test_the_keeper_knows_what_happened_since_the_players_last_message(
    player, make_player, configure, replies
):
    def reply(result) -> str:
        replies()
        result.message.reply.refresh_from_db()
        return result.message.reply.text

    configure(win_chance=Decimal(1))
    won = send_message(player=player, body="hello")
    assert f"{won.payout} credits" in reply(won)
    configure(win_chance=Decimal("0.000001"))
    asked = reply(send_message(player=player, body="Wow, did I just win? What now?"))
    assert f"{won.payout} credits" in asked, asked
    assert "round 1" in asked, asked
    assert "didn't" not in asked

    # Someone else wins round 2 while the player is away.
    rival = make_player()
    configure(win_chance=Decimal(1))
    rival_won = send_message(player=rival, body="my turn")
    configure(win_chance=Decimal("0.000001"))
    news = reply(send_message(player=player, body="what are my odds?"))
    assert rival.username in news, news
    assert str(rival_won.payout) in news, news
    assert "round 3" in news.lower(), news

    # A claim since the last message.
    claimed = claim_daily(player=player)
    balance = reply(send_message(player=player, body="whats my ballance"))
    assert f"the {claimed.amount} you claimed" in balance, balance


@given(
    next_price=st.integers(1, 10_000),
    step=st.integers(0, 1_000),
    balance=st.integers(0, 10**12),
)
def test_the_messages_a_balance_pays_for_follow_the_rising_price(next_price, step, balance):
    context = replace(CONTEXT, next_price=next_price, price_step=step, balance=balance)
    count = BuiltinBot._affordable(context)
    spent = count * next_price + step * count * (count - 1) // 2
    assert spent <= balance  # these many are paid for
    assert spent + next_price + step * count > balance  # and not one more
