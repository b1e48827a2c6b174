from django.utils.functional import SimpleLazyObject

from .comeback import newest_event_id


def live(request):
    """Where a page's stream starts from: the newest tick as the page is rendered (read only
    if the page has a stream)."""
    return {"live_from": SimpleLazyObject(lambda: newest_event_id() or "")}
