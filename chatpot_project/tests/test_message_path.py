"""docs/ARCHITECTURE.md's "The life of one message" names the code a send runs: each
function it names is one a real send, or a real win, calls (traced, not only looked up)."""

import importlib
import inspect
import re
import sys
from decimal import Decimal

import pytest

from chat.services import send_message
from operations.erd import TOUR

pytestmark = pytest.mark.django_db

SECTION = re.search(r"## The life of one message\n(.*?)\n## ", TOUR.read_text(), re.DOTALL)[1]


def _function(name: str) -> bool:
    module, attribute = name.rsplit(".", 1)
    return inspect.isfunction(getattr(importlib.import_module(module), attribute))


# `app.module.function` as the tour writes them; a model it names is no call.
NAMED = sorted(
    name
    for name in set(
        re.findall(r"`((?:accounts|wallet|pot|chat|keeper|live|game)\.\w+\.\w+)`", SECTION)
    )
    if _function(name)
)


def traced(send) -> set[str]:
    """The project functions `send` calls, by module and name."""
    called = set()

    def profile(frame, event, _):
        if event == "call":
            called.add(f"{frame.f_globals.get('__name__')}.{frame.f_code.co_name}")

    sys.setprofile(profile)
    try:
        send()
    finally:
        sys.setprofile(None)
    return called


def test_the_tour_names_the_functions_a_send_and_a_win_call(player, configure):
    configure(win_chance=Decimal("0.000001"))
    loss = traced(lambda: send_message(player=player, body="a loss"))
    configure(win_chance=Decimal(1))
    win = traced(lambda: send_message(player=player, body="a win"))
    assert len(NAMED) >= 8, NAMED
    assert [name for name in NAMED if name not in loss | win] == []
    # A loss takes none of a win's path.
    assert "chat.sql.close_won_round" in win - loss
