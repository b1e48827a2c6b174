"""What the app answers a listener itself: server-sent events that end with the answer."""

from django.http import HttpResponse

from .events import comment

# With no engine in front, a client comes back this often (EventSource's `retry:`).
POLL_MILLISECONDS = 3000


def sse(body: bytes) -> HttpResponse:
    """Events answered at once, the stream ending with them."""
    response = HttpResponse(body or comment("nothing new"))
    response["Content-Type"] = "text/event-stream; charset=utf-8"
    response["Cache-Control"] = "no-cache"
    response["X-Accel-Buffering"] = "no"
    return response
