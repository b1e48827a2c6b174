"""gunicorn's own lines as the app's (operations.logs): for gunicorn.conf.py and
gunicorn_stream.conf.py, with LOG_FORMAT=json."""

from gunicorn import glogging

from .logs import JsonFormatter


class JsonLogger(glogging.Logger):
    """Its errors, and its access log where it has one, as JSON lines (gunicorn's
    `logger_class`). Not through its `logconfig_dict`: with one, gunicorn builds and
    writes an access line for every request even with the access log off."""

    def _set_handler(self, log, output, fmt, stream=None):
        super()._set_handler(log, output, JsonFormatter(), stream)
