"""Positions in long histories ("load older"), as the pages' query strings give them."""

from django.http import HttpRequest

MAX_KEY = 2**63 - 1  # a BigAutoField's largest key


def before_key(request: HttpRequest) -> int | None:
    """`?before=` as a key the tables can hold, or None (start at the newest) for anything
    else: other digits than ASCII ones, a sign, or a number beyond 64 bits."""
    value = request.GET.get("before", "")
    if not (value.isascii() and value.isdigit()):
        return None
    key = int(value)
    return key if 0 < key <= MAX_KEY else None
