"""Error reports: off unless SENTRY_DSN is set; set, an error in a view reaches the
server it names, without the request's cookies or credentials."""

import gzip
import http.server
import subprocess
import sys
import threading
import zlib
from pathlib import Path

import sentry_sdk

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "bearer-token-that-must-stay-home"
SESSION = "session-cookie-that-must-stay-home"

URLS = """
from django.urls import include, path

def boom(request):
    raise RuntimeError("boom in a view, for the error report")

urlpatterns = [path("boom/", boom), path("", include("chatpot_project.urls"))]
"""

SCRIPT = f"""
import django
django.setup()
import sentry_sdk
from django.test import Client, override_settings

with override_settings(ROOT_URLCONF="boom_urls", ALLOWED_HOSTS=["testserver"]):
    client = Client(raise_request_exception=False, HTTP_AUTHORIZATION="Bearer {TOKEN}")
    client.cookies["sessionid"] = "{SESSION}"
    print(client.get("/boom/").status_code)
sentry_sdk.flush(10)
"""


class Collector(http.server.BaseHTTPRequestHandler):
    received: list[bytes] = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        encoding = self.headers.get("Content-Encoding", "")
        if encoding == "gzip":
            body = gzip.decompress(body)
        elif encoding == "deflate":
            body = zlib.decompress(body)
        elif encoding == "br":
            import brotli

            body = brotli.decompress(body)
        Collector.received.append(body)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_without_a_dsn_nothing_is_reported():
    assert not sentry_sdk.get_client().is_active()


def test_with_a_dsn_an_error_in_a_view_is_reported_without_credentials(tmp_path):
    server = http.server.HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    (tmp_path / "boom_urls.py").write_text(URLS)
    try:
        done = subprocess.run(
            [sys.executable, "-c", SCRIPT],
            cwd=ROOT,
            env={
                "PATH": "/usr/bin:/bin",
                "PYTHONPATH": f"{tmp_path}:{ROOT}",
                "DJANGO_SETTINGS_MODULE": "chatpot_project.settings",
                "SECRET_KEY": "sentry-test-key-0123456789abcdefghijklmnopqrstuvwxyz",
                "SQLITE_PATH": str(tmp_path / "db.sqlite3"),
                "SENTRY_DSN": f"http://publickey@127.0.0.1:{server.server_port}/1",
                "LOG_LEVEL": "CRITICAL",
            },
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        server.shutdown()
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["500"]
    reports = b"\n".join(Collector.received).decode()
    assert "boom in a view, for the error report" in reports
    assert TOKEN not in reports
    assert SESSION not in reports
