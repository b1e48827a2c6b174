"""The built-in keeper answers what it is asked, with the right figure, and never
contradicts itself or the game's state (keeper.rules)."""

import itertools
import re
from dataclasses import replace
from decimal import Decimal

import pytest

from keeper.bots import BuiltinBot
from keeper.context import BotContext, MessageFacts
from keeper.rules import INTENTS, asked

# Figures chosen to be told apart: price 15, next 20, balance 70, pot 345 in round 12,
# odds 2% (1 in 50), base and step 5, a daily claim of 50, the last roll 0.531240.
STATE = BotContext(
    player_name="ada",
    text="",
    ordinal=7,
    price=15,
    next_price=20,
    balance=70,
    pot=345,
    round_number=12,
    won=False,
    payout=0,
    win_chance=Decimal("0.02"),
    price_base=5,
    price_step=5,
    pot_share_percent=100,
    daily_claim=50,
    server_seed_hash="cafef00d" * 8,
    roll=0.53124,
    previous_round=12,
    last_winner="bob",
    last_payout=280,
)
# The player's previous message won round 11's pot (285); round 12 is theirs to play.
AFTER_OWN_WIN = {
    "previous_round": 11,
    "previous_won": True,
    "previous_payout": 285,
    "last_winner": "ada",
    "last_payout": 285,
    "balance": 340,
}
# This very message won: 345 credits, round 13 opened with the seed of 20.
WINNING = {"won": True, "payout": 345, "pot": 20, "next_price": 5, "balance": 415}
WINNING.update(last_winner="ada", last_payout=345)

# Three earlier exchanges, oldest first, as the keeper reads them when asked to recall.
EARLIER = {"history": [("the first thing", "r1"), ("the second thing", "r2"), ("the third", "r3")]}
# The player's message 3, in round 9 (closed, its seed revealed) or in the open round 12.
MESSAGE_3 = MessageFacts(
    number=3,
    round=9,
    server_seed="5eed" * 16,
    server_seed_hash="900d" * 16,
    client_seed="ada-seed",
    nonce=2,
    roll=0.12345678,
    won=False,
    win_chance=Decimal("0.02"),
)
MESSAGE_3_OPEN = replace(MESSAGE_3, round=12, server_seed="", server_seed_hash="cafef00d" * 8)

STOCK_OPENERS = ["No win this time", "Not this roll", "The pot stays put", "So close"]
LONG = (
    "I have been thinking about my week, the weather has been strange and my cat keeps "
    "knocking things off the table, and honestly I just wanted to tell someone about it "
    "before I go back to work on that endless spreadsheet of mine tonight."
)

# (message, state changes, what the reply must contain, what it must not say)
CASES = [
    # The pot, asked many ways, never answered with the price.
    ("how much is the pot?", {}, ["345"], ["20 credits", "next message"]),
    ("How big is the JACKPOT now??", {}, ["345"], ["next message"]),
    ("whats in teh pot", {}, ["345"], []),
    ("jackpt size?", {}, ["345"], []),
    ("how much can I win?", {}, ["345"], ["next message costs"]),
    # The price.
    ("how much does a message cost?", {}, ["20"], ["345"]),
    ("HOW MUCH IS THE NEXT ONE", {}, ["20"], ["345"]),
    ("whats the pirce of a mesage", {}, ["20"], []),
    ("why is it so expensive", {}, ["20", "5"], []),
    # The balance.
    ("what's my balance?", {}, ["70"], []),
    ("whats teh ballance", {}, ["70"], []),
    ("how many credits do I have left", {}, ["70"], []),
    ("what's my balance", {"balance": 10}, ["10", "50"], ["enough for"]),
    # The odds.
    ("what are my odds?", {}, ["2%"], ["So close"]),
    ("wat r my chanses", {}, ["2%"], []),
    ("probabilty of winning?", {}, ["2%"], []),
    ("any tips to win more?", {}, ["2%"], ["guarantee"]),
    ("should I keep playing?", {}, ["2%"], []),
    # Rules, fairness, claims, rounds, the keeper itself.
    ("what are the rules?", {}, ["2%", "5"], []),
    ("HOW DO I PLAY", {}, ["2%"], []),
    ("is this rigged??", {}, ["seed"], ["345"]),
    ("Is the pot rigged?", {}, ["seed"], ["345 credits in the pot"]),
    ("how can I verify a draw", {}, ["seed"], []),
    ("can i get free credits", {}, ["50"], []),
    ("how do I claim my daily credits", {}, ["50", "24 hours"], []),
    ("what round is it", {}, ["12"], ["13"]),
    ("what happens if I win?", {}, ["345", "13"], ["Not this time"]),
    ("how many messages have I sent?", {}, ["3 of them in this round"], []),
    ("when does the price reset?", {}, ["when a round ends", "20"], ["midnight"]),
    ("?", {}, ["20", "345", "odds"], ["beyond me"]),
    ("are you a bot?", {}, ["bot"], ["human"]),
    ("who are you", {}, ["keeper"], []),
    # Greetings and thanks, alone and beside a question.
    ("hi", {}, ["ada", "345"], STOCK_OPENERS),
    ("Good morning keeper", {}, ["ada", "345"], []),
    ("how's it going?", {}, ["345"], []),
    ("thanks!", {}, [], STOCK_OPENERS),
    ("thank you, how big is the jackpot now", {}, ["345"], []),
    # Several intents, one answer to each.
    ("hi! how big is the pot and what are my odds?", {}, ["ada", "345", "2%"], []),
    ("what does it cost and what's my balance", {}, ["20", "70"], []),
    ("hello, whats my balance and how much is the pot", {}, ["70", "345"], []),
    # Off the game's topic.
    ("tell me a joke", {}, ["345"], ["Noted", "No win"]),
    ("What's the weather like today?", {}, ["pot"], ["sunny", "No win"]),
    ("who is the president of France?", {}, ["pot"], ["No win"]),
    ("i love this game", {}, ["345"], STOCK_OPENERS),
    (LONG, {}, ["345"], ["Interesting!", "No win", "stays put"]),
    # What just happened: the player's own win, a win by someone else, a claim, a reset.
    ("Wow, did I just win? What now?", AFTER_OWN_WIN, ["285", "11", "12"], ["No win", "didn't"]),
    ("did i win??", {}, ["0.531240", "0.02"], ["Yes", "You won"]),
    ("what now?", AFTER_OWN_WIN, ["285", "12"], ["didn't"]),
    ("what's my balance?", AFTER_OWN_WIN, ["340", "285"], []),
    ("who won last?", {}, ["bob", "280", "11"], []),
    (
        "has anybody won yet?",
        {"round_number": 1, "last_winner": "", "previous_round": 1},
        ["345", "1"],
        ["bob"],
    ),
    ("what are my odds", {"previous_round": 11}, ["bob", "280", "2%"], []),
    (
        "hello",
        {"previous_round": 11, "last_winner": "", "last_payout": 0},
        ["operator", "12"],
        ["bob"],
    ),
    ("what's my balance", {"claimed": 50}, ["70", "50"], []),
    ("thanks for the credits", {"claimed": 50}, ["50"], []),
    # This message won: the new round's figures, never the closed round as open.
    ("hello", WINNING, ["345", "13"], ["Round 12 is open", "Round 12's pot", "No win"]),
    ("how big is the pot now?", WINNING, ["345", "20", "13"], ["in round 12", "Round 12's"]),
    ("Wow, did I just win?", WINNING, ["345"], ["didn't", "Not this time"]),
    ("who won?", WINNING, ["345", "13"], ["bob"]),
    ("what are my odds?", WINNING, ["2%", "345"], []),  # the question, then the win
    # Where a message's fee goes: the pot's share and the house's.
    ("what happens to my fee?", {"price_to_pot": 15}, ["All 15 credits", "pot"], ["house"]),
    (
        "where does my money go",
        {"pot_share_percent": 80, "price_to_pot": 12},
        ["12 went into the pot and 3 to the house", "80%"],
        [],
    ),
    # What the player said before.
    ("what did I say two messages ago?", EARLIER, ['"the second thing"'], ["beyond me"]),
    ("what did i just say", EARLIER, ['"the third"'], ["beyond me"]),
    ("what was my last message", {"history": []}, ["first message"], []),
    ("what did I write 9 messages ago", EARLIER, ["look back 3"], []),
    # One of the player's messages by its number: its round, seed and roll.
    (
        "how do I verify my message 3?",
        {"asked_about": MESSAGE_3},
        ["round 9", "5eed" * 16, "ada-seed", "nonce 2", "0.12345678", "no win"],
        ["cafef00d", "secret"],
    ),
    (
        "check message three",
        {"asked_about": MESSAGE_3_OPEN},
        ["round 12", "secret", "cafef00d"],
        [],
    ),
    ("verify my message 30", {"asked_about": None}, ["no message 30"], ["seed"]),
]


def says(reply: str, fact: str) -> bool:
    """A fact in the reply; a figure only as a number of its own ("5" is not in "15")."""
    if re.fullmatch(r"[\d.]+", fact):
        return re.search(rf"(?<![\d.]){re.escape(fact)}(?![\d])", reply) is not None
    return fact in reply


@pytest.mark.parametrize(("text", "state", "must", "must_not"), CASES)
def test_the_keeper_answers_what_it_is_asked(text, state, must, must_not):
    bot = BuiltinBot()
    for ordinal in range(1, 5):  # every wording the keeper might choose
        reply = bot.reply(replace(STATE, text=text, ordinal=ordinal, **state))
        for fact in must:
            assert says(reply, fact), (text, fact, reply)
        for wrong in must_not:
            assert not says(reply, wrong), (text, wrong, reply)


def test_the_table_asks_every_intent_the_keeper_knows():
    asked_somewhere = {intent for text, _, _, _ in CASES for intent in asked(text)}
    assert set(INTENTS) - asked_somewhere == set()


@pytest.mark.parametrize(
    ("text", "intents"),
    [
        ("hi! how big is the pot and what are my odds?", ["greeting", "pot", "odds"]),
        ("what are my odds, and how big is the pot", ["odds", "pot"]),
        ("help, what are my odds", ["odds"]),
        ("help", ["rules"]),
        ("do you like wine?", []),  # not "win"
        ("what's for dinner?", []),  # not "winner"
        ("I want to change my name", []),  # not "chance"
        ("im broke, what now?", ["claim", "what_now"]),
    ],
)
def test_reads_every_intent_in_order_and_no_more(text, intents):
    assert asked(text) == intents


def test_no_reply_opens_with_a_stock_phrase_or_repeats_itself():
    bot = BuiltinBot()
    for text, state, _must, _must_not in CASES:
        replies = [bot.reply(replace(STATE, text=text, ordinal=n, **state)) for n in range(1, 9)]
        for reply in replies:
            assert not reply.startswith(tuple(STOCK_OPENERS)), reply
        assert all(a != b for a, b in itertools.pairwise(replies)), text


def test_a_winning_messages_question_is_answered_before_the_win():
    bot = BuiltinBot()
    for ordinal in range(1, 5):
        reply = bot.reply(replace(STATE, text="what are my odds?", ordinal=ordinal, **WINNING))
        assert reply.index("2%") < reply.index("345"), reply
