"""What the built-in keeper understands and what it says (DESIGN section 5).

The keeper reads a message for everything it asks, in the order asked, forgiving a typo
(a word of five letters or more that is one slip from a word it knows), and gives one
answer to all of it from the game's state as the message left it: the message's own
outcome, the player's previous message, a claim since then, a round that opened meanwhile.
Every figure about the pot is the open round's: after a win, the new round's.

Lines are str.format templates over `figures()`. Every list has at least two lines and
the choice follows the player's message number, so two messages in a row never get the
same line.
"""

import difflib
import hashlib
import re
from functools import lru_cache

# -- Reading the message ------------------------------------------------------------------

# Each intent, by the words and phrases that ask for it, matched on the message in lower
# case with its typos corrected. Where two intents share words, `asked` settles it.
INTENTS: dict[str, list[str]] = {
    "greeting": [
        r"^(hi|hello|hey|heya|hiya|howdy|yo|greetings)\b",
        r"^good (morning|afternoon|evening|day)\b",
    ],
    "how_are_you": [r"\bhow are (you|u)\b", r"\bhow'?s it going\b", r"\bhow are things\b"],
    "thanks": [r"\b(thanks|thank (you|u)|thx|ty|cheers|appreciate)\b"],
    "identity": [
        r"\bwho are (you|u)\b",
        r"\bare (you|u) (a |an )?(bot|robot|human|real|person|ai|machine)\b",
        r"\bwhat are (you|u)\b",
        r"\byour name\b",
    ],
    "my_win": [
        r"\b(did|have|has) i (just |really |actually )?(win|won)\b",
        r"\bi (just )?won\b",
        r"\bdid (that|it|this|my message) win\b",
        r"\bwas (that|it|this) a win\b",
        r"\bam i (a |the )?winner\b",
    ],
    "what_now": [r"\bwhat now\b", r"\bwhat (do|should) i do\b", r"\bwhat next\b"],
    "winners": [
        r"\bwho (has |just |last )?(won|wins|win)\b",
        r"\b(last|latest|recent|previous|biggest) (winner|winners|win|wins)\b",
        r"\bwinners\b",
        r"\b(anyone|anybody) (ever )?won\b",
    ],
    "advice": [
        r"\b(tips?|strategy|trick|advice)\b",
        r"\bshould i (keep|stop|play|send|continue)\b",
        r"\b(improve|increase|better|boost) (my )?(odds|chances?)\b",
        r"\bhow (can|do) i win more\b",
    ],
    "claim": [
        r"\b(claim|claims|claimed|free credits?|daily|top ?up|refill|more credits)\b",
        r"\b(out of credits|no credits|broke)\b",
    ],
    "fairness": [
        r"\b(fair|fairness|unfair|rigged|rig|cheat|cheating|scam|trust)\b",
        r"\b(seed|seeds|hash|verify|provably|random|randomness)\b",
    ],
    "odds": [r"\b(odds|chance|chances|probability|likely|likelihood|how often)\b"],
    "round": [r"\b(what|which|current|this|new|next) round\b", r"\bround number\b"],
    "price": [
        r"\b(price|prices|cost|costs|costing|expensive|cheap|fee|fees)\b",
        r"\b(charge|charged|pay|paid)\b",
    ],
    "balance": [
        r"\b(balance|wallet|afford|my credits|credits left|have left)\b",
        r"\bcredits (do )?i have\b",
        r"\bhow (much|many) (do i have|credits)\b",
    ],
    "pot": [r"\b(pot|jackpot|prize)\b", r"\bhow much (can|could|would|will) (i|you|one) win\b"],
    "rules": [
        r"\b(rules?|explain|help|instructions)\b",
        r"\bhow (do|does|can|to) (i |you |one |this |it |the game )?(play|work|works|win)\b",
        r"\bwhat is (this|chatpot)\b",
    ],
    "joke": [r"\b(joke|jokes|funny|make me laugh|pun)\b"],
}
_PATTERNS = {name: re.compile("|".join(parts)) for name, parts in INTENTS.items()}
_HOW_MUCH = re.compile(r"\bhow much\b")
_ASKS_POT_SIZE = re.compile(r"\b(how (big|much|large)|size|what'?s in|is in|holds?|total)\b")
_HOW_MUCH_OF = {"pot", "balance", "claim", "winners", "my_win", "odds"}
_ABOUT_THE_POT = {"winners", "my_win", "fairness", "rules", "claim"}
_SOCIAL = {"greeting", "thanks", "how_are_you"}
# What the line that celebrates a win already answers.
_SAID_BY_A_WIN = {"my_win", "what_now", "how_are_you", "round", "winners"}

# Words worth correcting to: a word of five letters or more in the patterns above. Short
# words are left alone ("wine" is not "win", "post" is not "pot").
_VOCABULARY = frozenset(
    word for parts in INTENTS.values() for word in re.findall(r"[a-z]{5,}", " ".join(parts))
)
# Real words one slip from a word above, never corrected.
_NOT_TYPOS = frozenset({"change", "changes", "dinner", "thinks", "thank", "plays", "coast"})


@lru_cache(maxsize=4096)
def _corrected(word: str) -> str:
    if len(word) < 5 or word in _NOT_TYPOS or word in _VOCABULARY:
        return word
    candidates = sorted(known for known in _VOCABULARY if known[0] == word[0])
    close = difflib.get_close_matches(word, candidates, n=1, cutoff=0.8)
    return close[0] if close else word


def normalized(text: str) -> str:
    """The message in lower case, one space between words, its typos corrected."""
    text = text.lower().replace("\N{RIGHT SINGLE QUOTATION MARK}", "'")
    words = re.findall(r"[a-z0-9]+(?:'[a-z]+)?", text)
    return " ".join(_corrected(word) for word in words)


def asked(text: str) -> list[str]:
    """What the message asks, in the order asked."""
    plain = normalized(text)
    found = {}
    for name, pattern in _PATTERNS.items():
        if match := pattern.search(plain):
            found[name] = match.start()
    if (how_much := _HOW_MUCH.search(plain)) and not found.keys() & _HOW_MUCH_OF:
        found.setdefault("price", how_much.start())  # "how much?" alone: the price
    # "The pot" inside another question (who won it, is it rigged) does not ask its size.
    if "pot" in found and found.keys() & _ABOUT_THE_POT and not _ASKS_POT_SIZE.search(plain):
        del found["pot"]
    if "my_win" in found:
        found.pop("winners", None)
        found.pop("what_now", None)  # the answer to "did I win?" says what comes next
    if "advice" in found:
        found.pop("odds", None)
    # "Help" beside a real question is only a plea.
    if (
        "rules" in found
        and found.keys() - _SOCIAL - {"rules"}
        and not _PATTERNS["rules"].search(re.sub(r"\bhelp\b", "", plain))
    ):
        del found["rules"]
    return sorted(found, key=found.__getitem__)


_QUESTION_WORDS = re.compile(
    r"\s*(what|who|where|when|why|how|which|can|could|would|will|is|are|do|does)\b"
)


def is_question(text: str) -> bool:
    return "?" in text or bool(_QUESTION_WORDS.match(text.lower()))


def pick(lines: list[str], key: str, ordinal: int) -> str:
    """A line chosen by the key and the player's message number: the same input always
    gives the same line, and two messages in a row never get the same one."""
    start = int.from_bytes(hashlib.sha256(key.encode()).digest()[:4], "big")
    return lines[(start + ordinal) % len(lines)]


# -- What the keeper says -----------------------------------------------------------------

WON = [
    "You won the pot: {payout} credits! Round {closed_round} is closed and its seed revealed; "
    "round {round} is open, and your next message costs {next_price}.",
    "Jackpot, {name}! {payout} credits are yours. Round {closed_round} is over (its seed is "
    "revealed, so anyone can check the draw), and round {round} starts at {next_price} a message.",
    "The pot is yours: {payout} credits! A fresh round {round} begins with {pot} in its pot, "
    "and prices start again at {next_price}.",
]

# A round opened since the player's last message: someone else won (or an operator reset).
NEW_ROUND_WON = [
    "Round {round} opened since your last message: {last_winner} took round {closed_round}'s "
    "pot of {last_payout} credits, so prices start again.",
    "News first: {last_winner} won round {closed_round} ({last_payout} credits) while you were "
    "away, and round {round} is open now.",
]
NEW_ROUND_RESET = [
    "Round {round} opened since your last message: round {closed_round} was closed by an "
    "operator without a winner, its pot refunded.",
    "News first: round {closed_round} was reset by an operator and refunded; round {round} is "
    "open now.",
]

ANSWERS: dict[str, list[str]] = {
    "greeting": [
        "Hello, {name}! Round {round}'s pot holds {pot} credits, and your next message costs "
        "{next_price}.",
        "Welcome back, {name}. {pot} credits are waiting in round {round}.",
        "Hey {name}! The pot stands at {pot}. Your next message costs {next_price}.",
    ],
    "greeting_short": ["Hello, {name}!", "Hi {name}!", "Hey {name}!"],
    "how_are_you": [
        "Busy and content, {name}: the pot keeps growing, {pot} credits now.",
        "I'm well, thank you! Keeping watch over {pot} credits in round {round}.",
    ],
    "thanks": [
        "My pleasure, {name}. The pot holds {pot} credits now.",
        "Anytime. Your next message costs {next_price}, and the pot stands at {pot}.",
        "You're welcome! Every message is a {odds}% shot at the {pot} credits in the pot.",
    ],
    "thanks_short": ["My pleasure.", "You're welcome.", "Anytime."],
    "identity": [
        "I'm the keeper of the pot, ChatPot's built-in bot. I know the game's figures, but I "
        "can't move credits, pick winners or change the odds.",
        "A bot: the keeper of the pot. I answer with the game's live figures; the draws are "
        "made by a fair roll, never by me.",
    ],
    "rules": [
        "Every message costs {base} plus {step} for each message you already sent this round: "
        "your next is {next_price}. {share_sentence} Each message has a {odds}% chance to win "
        "the whole pot.",
        "You write, you pay, the pot grows. Your next message costs {next_price}, rising by "
        "{step} each time until someone wins and prices start again at {base}. Any message can "
        "win, at {odds}%.",
        "Prices start at {base} and climb by {step} per message in a round. {share_sentence} "
        "Each message gets a provably fair roll, and a roll below {odds}% takes the pot.",
    ],
    "odds": [
        "Each message has a {odds}% chance to win the pot, about 1 in {one_in}.",
        "Your odds are {odds}% per message, every message, whoever sent the last one.",
        "One roll per message, {odds}% to win: roughly 1 in {one_in}.",
    ],
    "advice": [
        "No message is luckier than another: each has the same {odds}% chance, whatever you "
        "write or when. More messages buy more rolls, but in a round each costs {step} more "
        "than the last (your next: {next_price}).",
        "There's no trick: every roll is {odds}%, fixed. The only choice is how many rolls to "
        "buy, and the price climbs by {step} per message this round (next: {next_price}).",
    ],
    "price": [
        "That message cost {price} credits; the next one costs {next_price}. Prices start "
        "again at {base} when a round ends.",
        "Your next message costs {next_price} credits. Each one in a round costs {step} more "
        "than the last.",
        "You paid {price}. Next up: {next_price}, since the price climbs by {step} per message "
        "in a round.",
    ],
    "balance": [
        "You have {balance} credits{balance_note}: enough for {affordable} more at the rising "
        "price.",
        "Your wallet holds {balance} credits{balance_note}. The next message costs {next_price}.",
        "Balance: {balance} credits{balance_note}. At {next_price} for the next message, "
        "that's {affordable} more.",
    ],
    "balance_empty": [
        "You have {balance} credits{balance_note}, and the next message costs {next_price}. "
        "{claim_offer}",
        "Your wallet holds {balance}{balance_note}, short of the {next_price} the next message "
        "costs. {claim_offer}",
    ],
    "pot": [
        "The pot holds {pot} credits in round {round}. Any message could take it.",
        "{pot} credits in the pot right now, and growing with every message.",
        "Round {round}'s pot: {pot} credits.",
    ],
    "round": [
        "Round {round} is open; its server seed's hash begins {seed_hash}…, and its pot holds "
        "{pot}.",
        "We're in round {round}, with {pot} credits in the pot.",
    ],
    "fairness": [
        "Every draw is HMAC-SHA256 of your client seed and nonce, keyed with the round's secret "
        "seed. Its hash is public now ({seed_hash}…) and the seed is revealed when the round "
        "closes; the fairness page recomputes any draw.",
        "I can't pick winners: the round's seed was committed before your message (hash "
        "{seed_hash}…), and your own client seed goes into every roll. Any draw can be checked "
        "on the fairness page.",
        "It's provably fair: each roll comes from the committed server seed, your client seed "
        "and your nonce. When the round closes its seed is revealed, and anyone can verify "
        "every draw of it.",
    ],
    "claim": [
        "You can claim {daily} free credits once every 24 hours, on the wallet page or here "
        "when you run short.",
        "Short of credits? Claim {daily} free ones every 24 hours on the wallet page.",
        "The daily claim gives you {daily} credits, once per 24 hours.",
    ],
    "claimed": [
        "Your claim of {claimed} credits came through; the next one opens 24 hours after it.",
        "You claimed {claimed} credits since your last message; another claim opens 24 hours "
        "later.",
    ],
    "winners": [
        "{last_winner} won round {closed_round}: {last_payout} credits. Every round's winner is "
        "on the winners page.",
        "The last pot, round {closed_round}'s, went to {last_winner}: {last_payout} credits.",
    ],
    "winners_none": [
        "Nobody has won yet: this is round {round}, the first, and its pot holds {pot}.",
        "No winner so far. Round {round}'s {pot} credits are still up for grabs.",
    ],
    "winners_reset": [
        "Round {closed_round} ended without a winner: an operator reset it and refunded the "
        "pot. The winners page lists every round that was won.",
        "No one won round {closed_round}; it was reset by an operator. Round {round} is open.",
    ],
    "my_win_yes": [
        "Yes! Your last message won {previous_payout} credits in round {previous_round}. Round "
        "{round} is open now with {pot} in its pot, and your next message costs {next_price}.",
        "You did: {previous_payout} credits from round {previous_round}'s pot. What now? Round "
        "{round} has begun, prices start again at {base}, and your next message costs "
        "{next_price}.",
    ],
    "my_win_no": [
        "Not this time: this message's roll was {roll}, and a win needs one below {win_line}.",
        "No, that one didn't win (it rolled {roll}; a win is below {win_line}). The pot still "
        "holds {pot}.",
    ],
    "joke": [
        "Why did the pot never feel lonely? Everyone kept chipping in. This one holds {pot} "
        "credits.",
        "I told the pot a joke about odds. It laughed {odds}% of the time, and still kept all "
        "{pot} credits.",
        "What's a keeper's favourite game? Hide and seed: round {round}'s stays hidden until "
        "it closes, and its pot holds {pot}.",
    ],
    "what_now": [
        "Keep talking if you like: your next message costs {next_price} and has a {odds}% "
        "chance at the {pot} credits in the pot.",
        "Whatever you like! Each message costs {next_price} now and rolls for the pot of "
        "{pot} credits.",
    ],
    "off_topic": [
        "That's beyond me, I'm afraid: I only keep the pot, {pot} credits of it. Ask me about "
        "the price, your odds, your balance or fairness.",
        "I wish I knew! My world is the pot: {pot} credits in round {round}, your next message "
        "at {next_price}.",
        "I can't answer that one: the pot's figures are all I know. Right now it holds {pot} "
        "credits.",
    ],
    "fallback": [
        "Noted, {name}. The pot holds {pot} credits in round {round}, and your next message "
        "costs {next_price}.",
        "I hear you. Meanwhile the pot has grown to {pot} credits.",
        "I'm only the keeper of the pot, but I know my figures: {pot} in the pot, {balance} in "
        "your wallet, {next_price} for your next message.",
        "Every message counts, and that one went into a pot of {pot} credits. Each has a "
        "{odds}% chance to take it.",
    ],
    "fallback_long": [
        "Thank you for all of that, {name}. I only keep the pot, so here is what I know: "
        "{pot} credits in round {round}, {next_price} for your next message.",
        "That's a lot of words for the pot, and it took every one. It holds {pot} credits now.",
    ],
}

# A message this long that asks nothing gets a line that says so.
LONG_MESSAGE_CHARS = 200


def figures(context, *, affordable: int) -> dict:
    """Everything a line may say, from the state the message left: after a win, the round
    and pot are the new round's."""
    closed_round = context.round_number if context.won else context.round_number - 1
    claim_offer = (
        f"The daily claim gives {context.daily_claim} free credits every 24 hours."
        if context.daily_claim
        else "An operator can grant you more."
    )
    if context.claimed:
        balance_note = f", the {context.claimed} you claimed included"
    elif context.previous_won:
        balance_note = f", your {context.previous_payout}-credit win included"
    else:
        balance_note = ""
    return {
        "name": context.player_name,
        "price": context.price,
        "next_price": context.next_price,
        "balance": context.balance,
        "balance_note": balance_note,
        "pot": context.pot,
        "round": context.open_round,
        "closed_round": closed_round,
        "payout": context.payout,
        "odds": context.odds_percent,
        "one_in": context.one_in,
        "roll": f"{context.roll:.6f}",
        "win_line": f"{context.win_chance.normalize():f}",
        "base": context.price_base,
        "step": context.price_step,
        "daily": context.daily_claim,
        "claimed": context.claimed,
        "claim_offer": claim_offer,
        "seed_hash": context.server_seed_hash[:12],
        "affordable": affordable,
        "last_winner": context.last_winner,
        "last_payout": context.last_payout,
        "previous_payout": context.previous_payout,
        "previous_round": context.previous_round,
        "share_sentence": (
            "Every credit goes into the pot."
            if context.pot_share_percent == 100
            else f"{context.pot_share_percent}% of each price goes into the pot, the rest to "
            "the house."
        ),
    }


def compose(context, *, affordable: int) -> str:
    """One answer to everything the message asks, after what just happened."""
    values = figures(context, affordable=affordable)

    def say(kind: str, lines: list[str] | None = None) -> str:
        return pick(lines or ANSWERS[kind], kind, context.ordinal).format(**values)

    intents = asked(context.text)
    news_first = not context.won and _round_opened_meanwhile(context)
    parts = []
    if "greeting" in intents:  # a greeting first, whatever else is said
        intents.remove("greeting")
        brief = bool(intents) or context.won or news_first
        parts.append(say("greeting_short" if brief else "greeting"))
    if context.won:
        parts.append(say("won", WON))
        intents = [i for i in intents if i not in _SAID_BY_A_WIN]
    elif news_first:
        news = NEW_ROUND_WON if context.last_winner else NEW_ROUND_RESET
        parts.append(say("news", news))
        intents = [i for i in intents if i != "round"]
    # Social words are brief beside anything of substance, a claim's note included.
    substantive = bool(set(intents) - _SOCIAL or context.claimed)
    for intent in intents:
        parts.append(say(_answer_for(intent, context, brief=bool(parts) or substantive)))
    if context.claimed and not {"claim", "balance"} & set(intents) and not context.won:
        parts.append(say("claimed"))
    if not intents and not parts:
        if is_question(context.text):
            parts.append(say("off_topic"))
        elif len(context.text) >= LONG_MESSAGE_CHARS:
            parts.append(say("fallback_long"))
        else:
            parts.append(say("fallback"))
    return " ".join(parts)


def _round_opened_meanwhile(context) -> bool:
    """A round closed since the player's previous message, and not by that message."""
    previous = context.previous_round
    if previous is None or previous >= context.round_number:
        return False
    return not (context.previous_won and previous == context.round_number - 1)


def _answer_for(intent: str, context, *, brief: bool) -> str:
    if intent in {"greeting", "thanks"} and brief:
        return f"{intent}_short"
    if intent in {"balance", "what_now"} and context.balance < context.next_price:
        return "balance_empty"
    if intent == "claim" and context.claimed:
        return "claimed"
    if intent == "my_win":
        return "my_win_yes" if context.previous_won else "my_win_no"
    if intent == "what_now" and context.previous_won:
        return "my_win_yes"
    if intent == "winners":
        if context.last_winner:
            return "winners"
        return "winners_none" if context.open_round == 1 else "winners_reset"
    return intent
