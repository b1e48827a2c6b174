"""What the keeper says: the intents it recognises and its lines for each.

Lines are str.format templates over the figures BuiltinBot passes. Every list has at least
two lines, so the keeper never says the same line twice in a row.
"""

import re

# What the player asks, by the words they use; the first match wins.
INTENTS: list[tuple[str, re.Pattern]] = [
    (name, re.compile(pattern, re.IGNORECASE))
    for name, pattern in [
        ("claim", r"\b(claim|free credits?|daily|top ?up|more credits|refill)\b"),
        ("fairness", r"\b(fair|fairness|rigged|cheat\w*|seed|hash|verify|provabl\w*|random\w*)\b"),
        ("odds", r"\b(odds|chances?|probabilit\w*|likely|how often)\b"),
        ("price", r"\b(price|cost\w*|how much|expensive|fee)\b"),
        ("balance", r"\b(balance|my credits|how many credits|wallet|afford|left)\b"),
        ("pot", r"\b(pot|jackpot|prize)\b"),
        (
            "rules",
            r"\b(rules?|how (do|does|to) (i |you |this |it )?(play|work|win)|explain|help)\b",
        ),
        (
            "greeting",
            r"^\W*(hi|hello|hey|howdy|hiya|good (morning|afternoon|evening)|greetings)\b",
        ),
        ("thanks", r"\b(thanks?|thank you|thx|cheers|appreciate)\b"),
    ]
]

ANSWERS: dict[str, list[str]] = {
    "greeting": [
        "Hello, {name}! The pot holds {pot} credits in round {round}, and your next message costs {next_price}.",
        "Welcome back to the pot, {name}. {pot} credits are waiting in round {round}.",
        "Hey {name}! Round {round} is open with {pot} credits in it. Your next word costs {next_price}.",
    ],
    "thanks": [
        "My pleasure, {name}. The pot thanks you too: it holds {pot} credits now.",
        "Anytime. Your next message costs {next_price}, and the pot stands at {pot}.",
        "You're welcome! Keep talking: every message is a {odds}% shot at {pot} credits.",
    ],
    "rules": [
        "Every message costs {base} + {step} × the messages you already sent this round: your next is {next_price}. "
        "{share_sentence} Each message has a {odds}% chance to win the whole pot.",
        "Simple: you talk, you pay, the pot grows. Your next message costs {next_price}, rising by {step} each time "
        "until someone wins and prices start again at {base}. Any message can win, at {odds}%.",
        "The rules of the pot: prices start at {base} and climb by {step} per message in a round; "
        "{share_sentence} Each message draws a provably fair roll, and below {odds}% it takes the pot.",
    ],
    "odds": [
        "Each message has a {odds}% chance to win, about 1 in {one_in}. The prize right now: {pot} credits.",
        "Your odds are {odds}% per message, every message, no matter who sent the last one. The pot is at {pot}.",
        "One roll per message, {odds}% to win: roughly 1 in {one_in}. Round {round} is still open with {pot} credits.",
    ],
    "price": [
        "That message cost {price} credits; the next one costs {next_price}. Prices reset to {base} when a round ends.",
        "Your next message is {next_price} credits. Each one in a round costs {step} more than the last.",
        "You paid {price}. Next up: {next_price} credits, because the price climbs by {step} per message in a round.",
    ],
    "balance": [
        "You have {balance} credits. Your next message costs {next_price}.",
        "Your wallet holds {balance} credits, enough for {affordable} more at the rising price.",
        "Balance: {balance} credits. At {next_price} for the next message, you can keep going for {affordable} more.",
    ],
    "pot": [
        "The pot holds {pot} credits in round {round}. Any message could take it.",
        "{pot} credits in the pot right now. One lucky roll below {odds}% and they are yours.",
        "Round {round}'s pot: {pot} credits, and growing with every message.",
    ],
    "fairness": [
        "Every draw is HMAC-SHA256 of your client seed and nonce, keyed with the round's secret seed. "
        "Its hash is public now ({seed_hash}…) and the seed is revealed when the round closes. Check any draw on the fairness page.",
        "I can't pick winners: the round's seed was committed before your message (hash {seed_hash}…), "
        "and your own client seed goes into every roll. The fairness page recomputes any draw.",
        "Provably fair: the roll comes from the committed server seed, your client seed and your nonce. "
        "When the round closes the seed is revealed, and anyone can verify every message of it.",
    ],
    "claim": [
        "You can claim {daily} free credits once every 24 hours, from your wallet or from the chat when you run short.",
        "Short of credits? Claim {daily} free ones every 24 hours on the wallet page.",
        "The daily claim gives you {daily} credits, once per 24 hours. Your balance now: {balance}.",
    ],
    "fallback": [
        "I keep the pot, and it holds {pot} credits. Ask me about the rules, the odds, the price, your balance or fairness.",
        "Interesting! Meanwhile the pot grows: {pot} credits in round {round}. Your next message costs {next_price}.",
        "I'm only the keeper of the pot, but I know my figures: {pot} in the pot, {balance} in your wallet, {next_price} for your next message.",
        "Noted. Keep chatting: each message has a {odds}% chance to win the {pot} credits in the pot.",
    ],
}

LOSS_OPENERS = [
    "No win this time.",
    "Not this roll.",
    "The pot stays put.",
    "So close, or maybe not.",
]

WIN_LINES = [
    "You won the pot: {payout} credits! Round {round} is closed and its seed revealed; round {next_round} begins now.",
    "Jackpot! {payout} credits are yours. Round {round} is over (check the revealed seed), and round {next_round} is open.",
    "The pot is yours: {payout} credits! Round {next_round} starts, and your next message costs {next_price}.",
]
