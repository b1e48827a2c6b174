from django.db.models import QuerySet

from .models import Round


def open_round() -> Round:
    return Round.objects.get(outcome=Round.Outcome.OPEN)


def closed_rounds() -> QuerySet[Round]:
    return (
        Round.objects.exclude(outcome=Round.Outcome.OPEN)
        .select_related("winner")
        .order_by("-number")
    )


def recent_winners(limit: int = 5) -> QuerySet[Round]:
    return (
        Round.objects.filter(outcome=Round.Outcome.WON)
        .select_related("winner")
        .order_by("-number")[:limit]
    )
