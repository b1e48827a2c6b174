"""What the built-in keeper understands and what it says (docs/GAME.md).

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
from zoneinfo import ZoneInfo

from game.models import as_percent

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
    "if_win": [
        r"\bif i (ever )?win\b",
        r"\bwhat happens (if|when) (i|you|someone|somebody|a message) wins?\b",
        r"\bwhen i win\b",
        r"\bwhat (do|would|will) i (get|win)\b",
    ],
    "count": [
        r"\bhow many (messages|msgs|times|messages have i)\b",
        r"\b(messages|msgs) (have i|did i|i have|i've) (sent|send|written)\b",
        r"\bmy message count\b",
        r"\bcount my messages\b",
    ],
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
    "fee_goes": [
        r"\bwhere (does|do|did|will) (my |the |a |each |all |our )?(fee|fees|price|prices|credits?"
        r"|money|payments?) go\b",
        r"\bwhat happens (to|with) (my |the |our )?(fee|fees|credits?|money|payments?|price)\b",
        r"\bwho gets (my |the |our )?(fee|fees|money|credits?|payments?)\b",
    ],
    "recall": [
        r"\bwhat (did|have) i (just )?(say|said|write|wrote|written|send|sent|ask|asked)\b",
        r"\bwhat was my (last|previous) message\b",
    ],
    "round": [r"\b(what|which|current|this|new|next) round\b", r"\bround number\b"],
    "price_reset": [
        r"\b(price|prices|cost|costs|it) (reset|resets|go down|goes down|drop|drops|start again"
        r"|starts again|come down|comes down)\b",
        r"\bwhen (does|do|will) (the |my )?(price|prices|cost|it) (reset|go down|drop|start)\b",
        r"\breset (the |my )?(price|prices)\b",
    ],
    "price_why": [
        r"\bwhy (did|does|is|has|do) (my |the )?(price|prices|cost|it) (go|going|gone|went|rise"
        r"|rising|risen|climb|climbing|increase|increasing|keep)",
        r"\bwhy (is|are) (it|this|messages?|the price) (so |more )?(expensive|costly|pricey)\b",
        r"\bwhy (am i paying|do i pay) more\b",
    ],
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
    if found.keys() & {"price_reset", "price_why", "fee_goes"}:
        found.pop("price", None)  # the answer says the price too
    # "Verify my message 3": that message's draw, not fairness in general.
    checking = _CHECKING.search(plain)
    if asked_message_number(plain) is not None and ("fairness" in found or checking):
        found["verify_message"] = (
            found.pop("fairness") if "fairness" in found else checking.start()
        )
    # "Help" beside a real question is only a plea.
    if (
        "rules" in found
        and found.keys() - _SOCIAL - {"rules"}
        and not _PATTERNS["rules"].search(re.sub(r"\bhelp\b", "", plain))
    ):
        del found["rules"]
    return sorted(found, key=found.__getitem__)


_NUMBER_WORDS = ["one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten"]
_NUMBER = r"(\d+|" + "|".join(_NUMBER_WORDS) + ")"
_MESSAGE_NUMBER = re.compile(rf"\bmessage (number |no )?{_NUMBER}\b")
_MESSAGES_AGO = re.compile(rf"\b{_NUMBER} messages? (ago|back|before)\b")


_CHECKING = re.compile(r"\b(check|checks|checking|roll|draw|prove)\b")


def _number(word: str) -> int:
    return int(word) if word.isdigit() else _NUMBER_WORDS.index(word) + 1


def asked_message_number(plain: str) -> int | None:
    """The number of the player's message a (normalized) text names: "message 3"."""
    match = _MESSAGE_NUMBER.search(plain)
    return _number(match[2]) if match else None


def messages_back(plain: str) -> int:
    """How far back a (normalized) text asks to recall: "two messages ago", else 1."""
    match = _MESSAGES_AGO.search(plain)
    return max(1, _number(match[1])) if match else 1


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
    "and your next message costs {next_price}.",
]

# A round opened since the player's last message: someone else won (or an operator reset).
NEW_ROUND_WON = [
    "Round {round} opened since your last message: {last_winner} took round {closed_round}'s "
    "pot of {last_payout} credits.",
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
        "{price_rule} {price_reset} Your next is {next_price}. {share_sentence} Each message "
        "has a {odds}% chance to win the whole pot.",
        "You write, you pay, and any message can win, at {odds}%. {price_rule} {price_reset} "
        "Your next message costs {next_price}. {share_sentence}",
        "{price_rule} {price_reset} {share_sentence} Each message gets a provably fair roll, "
        "and a roll below {odds}% takes the pot.",
    ],
    "odds": [
        "Each message has a {odds}% chance to win the pot, about 1 in {one_in}.",
        "Your odds are {odds}% per message, every message, whoever sent the last one.",
        "One roll per message, {odds}% to win: roughly 1 in {one_in}.",
    ],
    "advice": [
        "No message is luckier than another: each has the same {odds}% chance, whatever you "
        "write or when. More messages buy more rolls; your next costs {next_price}. {climb}",
        "There's no trick: every roll is {odds}%, fixed. The only choice is how many rolls to "
        "buy, at {next_price} for the next. {climb}",
    ],
    "price": [
        "That message cost {price} credits; the next one costs {next_price}. {price_reset}",
        "Your next message costs {next_price} credits. {climb} {price_reset}",
        "You paid {price}. Next up: {next_price}. {climb}",
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
    "fee_goes": [
        "{fee_split} Whoever wins takes the whole pot.",
        "{fee_split} The pot is paid out whole to the message that wins it.",
    ],
    "recall": ["{recalled}", "{recalled} Anything else, about the pot or your odds?"],
    "verify_message": [
        "{asked_message}",
        "{asked_message} The message's draw receipt in the chat shows the same figures.",
    ],
    "claim": [
        "{claim_now} It gives {daily} free credits once every 24 hours.",
        "The daily claim gives you {daily} credits, once per 24 hours. {claim_now}",
    ],
    "claim_off": [
        "There's no daily claim in this game: only an operator can grant you credits.",
        "No free credits here, I'm afraid: this game has no daily claim. An operator can grant "
        "credits.",
    ],
    "claimed": [
        "Your claim of {claimed} credits came through. {claim_now}",
        "You claimed {claimed} credits since your last message. {claim_now}",
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
        "{round} has begun, and your next message costs {next_price}.",
    ],
    "price_reset": [
        "{price_reset_answer} Your next message costs {next_price}.",
        "{price_reset_answer} For now, your next costs {next_price}.",
    ],
    "price_why": [
        "{climb}{counted_so} your next costs {next_price}. {price_reset}",
        "Because the price counts your messages. {climb}{counted_so} your next is {next_price}.",
    ],
    "if_win": [
        "If your message wins, the whole pot is yours at once: {pot} credits now, and growing. "
        "The round closes and its seed is revealed, so anyone can check the draw; round "
        "{next_round} opens{seeded}, and {after_win_price}.",
        "A win pays you the whole pot on the spot ({pot} credits as it stands). Round {round} "
        "then closes with its seed revealed, round {next_round} opens{seeded}, and "
        "{after_win_price}.",
    ],
    "count": [
        "That was your message number {ordinal}.{counted}",
        "You've sent {ordinal} messages in all, this one included.{counted}",
    ],
    "menu": [
        "Ask me about the game: the price of your next message ({next_price}), your odds "
        "({odds}%), the pot ({pot}), your balance, the daily claim, fairness, or what happens "
        "if you win.",
        "I can tell you the price ({next_price} for your next), your odds, the pot ({pot}), your "
        "balance, the daily claim, how the draws are fair, and what a win brings. Just ask.",
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

# A message in another language: a short answer, in that language where the keeper can
# tell which, that it speaks English, with the price.
FOREIGN = {
    "fr": "Désolé, je ne parle qu'anglais ! Ton prochain message coûte {next_price} crédits, "
    "et le pot en contient {pot}.",
    "es": "Lo siento, solo hablo inglés. Tu próximo mensaje cuesta {next_price} créditos, y el "
    "bote tiene {pot}.",
    "de": "Tut mir leid, ich spreche nur Englisch. Deine nächste Nachricht kostet {next_price} "
    "Credits, und im Topf liegen {pot}.",
    "other": "Sorry, I only speak English. Your next message costs {next_price} credits, and "
    "the pot holds {pot}.",
}


# Words that tell a language apart (and English's, to stay out of its way); letters a
# language has and the others lack count once more.
def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_LANGUAGE_WORDS = {
    "fr": _words(
        "combien coûte coute mon ma mes ton prochain prochaine bonjour salut je suis est le la "
        "les des une pourquoi comment quel quelle merci gagner gagné c'est cagnotte prix oui "
        "avec pour qui quoi vous crédits solde règles"
    ),
    "es": _words(
        "cuánto cuanto cuesta mi mis tu próximo proximo siguiente hola qué cómo como por el "
        "los las mensaje gracias ganar gané es está soy tengo bote precio sí con para quién "
        "dónde cuál créditos saldo reglas"
    ),
    "de": _words(
        "wie viel kostet meine mein nächste naechste nachricht hallo ich ist der die das warum "
        "was danke gewinnen gewonnen bin habe nicht und mit für topf preis ja nein wer wo "
        "guten tag regeln guthaben"
    ),
    "en": _words(
        "the is a my how what much i you does do cost costs next message hello hi pot price "
        "win odds balance are and to of it can why who thanks me your this"
    ),
}
_LANGUAGE_LETTERS = {"fr": "çèêàùœî", "es": "ñ¿¡", "de": "äöüß"}


def language_of(text: str) -> str | None:
    """The language of a message the keeper should not answer in English: "fr", "es", "de",
    "other" (not in Latin letters), or None (English, or too little to tell)."""
    lowered = text.lower()
    words = re.findall(r"[^\W\d_]+(?:'[^\W\d_]+)?", lowered)
    letters = [c for c in lowered if c.isalpha()]
    if (
        letters
        and sum(c.isascii() or c in "àâçéèêëîïôùûüÿæœäöñß¿¡áíóú" for c in letters)
        < len(letters) / 2
    ):
        return "other"
    scores = {
        language: sum(word in known for word in words)
        for language, known in _LANGUAGE_WORDS.items()
    }
    for language, marks in _LANGUAGE_LETTERS.items():
        scores[language] += any(mark in lowered for mark in marks)
    english = scores.pop("en")
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] >= 2 and scores[best] > english else None


# A message this long that asks nothing gets a line that says so.
LONG_MESSAGE_CHARS = 200


def price_rules(context) -> dict[str, str]:
    """The pricing rules in sentences, for the window, base and step the operator set: the
    built-in keeper's lines and the model's prompt say these, and nothing else of prices."""
    base, step, window = context.price_base, context.price_step, context.pricing_window
    if not step:
        return {
            "price_rule": f"Every message costs {base}, however many you send.",
            "climb": f"The price stays at {base}.",
            "price_reset": "",
            "after_win_price": f"messages still cost {base}",
        }
    return {
        "round": {
            "price_rule": f"Every message costs {base} plus {step} for each message you "
            "already sent this round.",
            "climb": f"Each message in a round costs {step} more than the one before.",
            "price_reset": f"Prices start again at {base} when a round ends.",
            "after_win_price": f"everyone's next message costs {base} again",
        },
        "day": {
            "price_rule": f"Every message costs {base} plus {step} for each message you "
            "already sent today.",
            "climb": f"Each message you send in a day costs {step} more than the one before.",
            "price_reset": f"Prices start again at {base} at midnight ({context.time_zone}), "
            "not when a round ends.",
            "after_win_price": "your price still counts the messages you sent today (it "
            "starts again at midnight)",
        },
        "lifetime": {
            "price_rule": f"Every message costs {base} plus {step} for each message you "
            "have ever sent.",
            "climb": f"Each message you send costs {step} more than the one before, for good.",
            "price_reset": "Prices never start again: not at a round's end, not at midnight.",
            "after_win_price": "your price still counts every message you ever sent",
        },
    }[window]


def share_sentence(context) -> str:
    if context.pot_share_percent == 100:
        return "Every credit of a price goes into the pot."
    if context.pot_share_percent == 0:
        return "Prices go to the house; the pot grows only by what the house puts in."
    return f"{context.pot_share_percent}% of each price goes into the pot, the rest to the house."


def fee_split(context) -> str:
    to_house = context.price - context.price_to_pot
    if not to_house:
        return f"All {context.price} credits of your message went into the pot."
    if not context.price_to_pot:
        return f"The {context.price} credits of your message went to the house."
    return (
        f"Of the {context.price} credits your message cost, {context.price_to_pot} went into "
        f"the pot and {to_house} to the house ({context.pot_share_percent}% of each price "
        "goes into the pot)."
    )


def recalled(context) -> str:
    back = messages_back(normalized(context.text))
    if not context.history:
        return "This is your first message: there's nothing earlier to recall."
    if back > len(context.history):
        return f"I can look back {len(context.history)} of your messages, not {back}."
    said = context.history[-back][0]
    said = said if len(said) <= QUOTED_CHARS else said[: QUOTED_CHARS - 1].rstrip() + "…"
    who = "Your last message" if back == 1 else f"{back} messages ago, you"
    return f'{who} said: "{said}"'


# How much of an earlier message the keeper quotes back.
QUOTED_CHARS = 120


def asked_message(context) -> str:
    facts = context.asked_about
    number = asked_message_number(normalized(context.text))
    if facts is None:
        return (
            f"You have sent {context.ordinal} message{'s' if context.ordinal != 1 else ''}: "
            f"there's no message {number} to check."
        )
    seeds = f"your client seed {facts.client_seed} and nonce {facts.nonce}"
    if not facts.server_seed:
        return (
            f"Your message {facts.number} is in round {facts.round}, still open: its server "
            f"seed stays secret until the round closes; its SHA-256 is "
            f"{facts.server_seed_hash[:12]}…. Its roll was {facts.roll:.8f} from {seeds}; once "
            "the round closes, the fairness page recomputes it."
        )
    outcome = "below the win chance: it won" if facts.won else "not below the win chance: no win"
    return (
        f"Your message {facts.number} was drawn in round {facts.round}, now closed, with the "
        f"server seed {facts.server_seed}, {seeds}: the roll {facts.roll:.8f}, {outcome} "
        f"({as_percent(facts.win_chance)}%). The fairness page recomputes it from those."
    )


def claim_rules(context) -> dict[str, str]:
    """The daily claim, in sentences: where, and whether it is open now."""
    daily = context.daily_claim
    if not daily:
        return {"claim_now": "", "claim_offer": "An operator can grant you more."}
    if context.claim_open:
        return {
            "claim_now": "Your daily claim is ready now: on the wallet page, or with the Claim "
            "button by the message box when you run short.",
            "claim_offer": f"Your daily claim of {daily} credits is ready: claim it here or on "
            "the wallet page.",
        }
    wait = _duration(context.next_claim_at - (context.sent_at or context.next_claim_at))
    at = context.next_claim_at.astimezone(ZoneInfo(context.time_zone)).strftime("%H:%M")
    return {
        "claim_now": f"Your next claim opens in {wait} (at {at} {context.time_zone}), on the "
        "wallet page.",
        "claim_offer": f"Your next daily claim of {daily} credits opens in {wait}.",
    }


def _duration(span) -> str:
    minutes = max(0, int(span.total_seconds() // 60))
    hours, minutes = divmod(minutes, 60)
    if not hours and not minutes:
        return "under a minute"
    said = [f"{hours} hour{'s' if hours != 1 else ''}"] if hours else []
    if minutes:
        said.append(f"{minutes} minute{'s' if minutes != 1 else ''}")
    return " ".join(said)


def _counted(context) -> str:
    counted = context.counted_in_window
    if counted is None:
        return ""
    if context.pricing_window == "lifetime":
        return " Every one of them counts towards your price."
    where = "in this round" if context.pricing_window == "round" else "today"
    verb = "counts" if counted == 1 else "count"
    return f" {counted} of them {where} {verb} towards your price."


def _counted_so(context) -> str:
    counted = context.counted_in_window
    if counted is None:
        return " So"
    where = {"round": " this round", "day": " today", "lifetime": ""}[context.pricing_window]
    plural = "" if counted == 1 else "s"
    return f" You've sent {counted} message{plural}{where} that count, so"


def figures(context, *, affordable: int) -> dict:
    """Everything a line may say, from the state the message left: after a win, the round
    and pot are the new round's."""
    closed_round = context.round_number if context.won else context.round_number - 1
    if context.claimed:
        balance_note = f", the {context.claimed} you claimed included"
    elif context.previous_won:
        balance_note = f", your {context.previous_payout}-credit win included"
    else:
        balance_note = ""
    prices = price_rules(context)
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
        **claim_rules(context),
        **prices,
        "ordinal": context.ordinal,
        "counted": _counted(context),
        "counted_so": _counted_so(context),
        "price_reset_answer": prices["price_reset"]
        or f"There's nothing to reset: every message costs {context.price_base}.",
        "next_round": context.open_round + 1,
        "seeded": f" with {context.pot_seed} credits from the house in its pot"
        if context.pot_seed
        else " with an empty pot",
        "seed_hash": context.server_seed_hash[:12],
        "affordable": affordable,
        "last_winner": context.last_winner,
        "last_payout": context.last_payout,
        "previous_payout": context.previous_payout,
        "previous_round": context.previous_round,
        "share_sentence": share_sentence(context),
        "fee_split": fee_split(context),
        "recalled": recalled(context),
        "asked_message": asked_message(context),
    }


def compose(context, *, affordable: int) -> str:
    """One answer to everything the message asks, after what just happened."""
    values = figures(context, affordable=affordable)

    def say(kind: str, lines: list[str] | None = None) -> str:
        line = pick(lines or ANSWERS[kind], kind, context.ordinal).format(**values)
        return " ".join(line.split())  # a rule that says nothing leaves no gap

    if language := language_of(context.text):
        return FOREIGN[language].format(**values)
    intents = asked(context.text)
    news_first = not context.won and _round_opened_meanwhile(context)
    parts = []
    if "greeting" in intents:  # a greeting first, whatever else is said
        intents.remove("greeting")
        brief = bool(intents) or context.won or news_first
        parts.append(say("greeting_short" if brief else "greeting"))
    if context.won:  # what was asked is answered first, then the win
        intents = [i for i in intents if i not in _SAID_BY_A_WIN]
    elif news_first:
        news = NEW_ROUND_WON if context.last_winner else NEW_ROUND_RESET
        parts.append(say("news", news))
        intents = [i for i in intents if i != "round"]
    # Social words are brief beside anything of substance, a claim's note included.
    substantive = bool(set(intents) - _SOCIAL or context.claimed or context.won)
    for intent in intents:
        parts.append(say(_answer_for(intent, context, brief=bool(parts) or substantive)))
    if context.won:
        parts.append(say("won", WON))
    if context.claimed and not {"claim", "balance"} & set(intents) and not context.won:
        parts.append(say("claimed"))
    if not intents and not parts:
        if context.text.strip() and not any(c.isalnum() for c in context.text):
            parts.append(say("menu"))  # a bare "?": what can be asked
        elif is_question(context.text):
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
    if intent == "price_why" and not context.price_step:
        return "price"  # the price does not climb: nothing to explain
    if intent == "claim" and not context.daily_claim:
        return "claim_off"
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
