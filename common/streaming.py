"""A response written as it is read (a round's transcript): under WSGI (the Procfile's
web process) the iterator as it is; under ASGI (`bin/run`) an asynchronous stream that
takes each chunk from the iterator in the thread of the request's synchronous code, since
Django's ASGI handler would otherwise read a synchronous iterator whole before sending."""

from collections.abc import AsyncIterator, Iterator

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, StreamingHttpResponse


def streamed(
    request: HttpRequest, chunks: Iterator[str], *, content_type: str
) -> StreamingHttpResponse:
    request = getattr(request, "_request", request)  # a DRF request's own
    content = _each_in_a_thread(chunks) if isinstance(request, ASGIRequest) else chunks
    return StreamingHttpResponse(content, content_type=content_type)


async def _each_in_a_thread(chunks: Iterator[str]) -> AsyncIterator[str]:
    end = object()
    take = sync_to_async(next)
    while (chunk := await take(chunks, end)) is not end:
        yield chunk
