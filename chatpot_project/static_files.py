"""WhiteNoise, serving the static files, made to answer an ASGI server (`bin/run`'s
uvicorn) as Django's ASGI handler expects: a file as an asynchronous stream. Its own
answer is a synchronous file iterator, which the handler reads all the same but with a
warning for every file served. Under WSGI (the Procfile's web process) nothing changes."""

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from whitenoise.middleware import WhiteNoiseMiddleware


class StaticFilesMiddleware(WhiteNoiseMiddleware):
    @staticmethod
    def serve(static_file, request):
        response = WhiteNoiseMiddleware.serve(static_file, request)
        if isinstance(request, ASGIRequest) and response.streaming and not response.is_async:
            response.streaming_content = _read_in_a_thread(response.streaming_content)
        return response


async def _read_in_a_thread(chunks):
    # A static file is small (the largest, htmx, is 50 kB): read at once, off the loop.
    for chunk in await sync_to_async(list, thread_sensitive=False)(chunks):
        yield chunk
