"""The proxy and real-time engine of deploy/ (bin/proxy: nginx with nchan), started by a
test as an operator starts it on a host of its own."""

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

from tests.tools import needs

ROOT = Path(__file__).resolve().parents[1]
NCHAN_MODULES = [
    Path("/usr/lib/nginx/modules/ngx_nchan_module.so"),
    Path("/usr/share/nginx/modules/ngx_nchan_module.so"),
]


def engine_missing() -> str:
    """Why the engine cannot run here, or ""."""
    if not shutil.which("nginx"):
        return "needs nginx (apt-get install nginx libnginx-mod-nchan), as .ci/run installs"
    if not any(module.exists() for module in NCHAN_MODULES):
        return "needs nginx's nchan module (apt-get install libnginx-mod-nchan)"
    return ""


needs_engine = needs(engine_missing())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port: int, seconds: float = 15) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.05)
    raise AssertionError(f"nothing listens on port {port}")


class Engine:
    """bin/proxy in front of the web process at `web_address`; `url` is the public side,
    `publish_url` the app's LIVE_PUBLISH_URL, `name` how it names itself; `settings`, more
    of bin/proxy's environment."""

    def __init__(self, web_address: str, run_dir: Path, *, name: str = "", **settings: str):
        self.port, self.publish_port = free_port(), free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.publish_url = f"http://127.0.0.1:{self.publish_port}/publish"
        self.name = name or f"edge-{self.port}"
        self.run_dir = run_dir
        self.settings = {
            "WEB_UPSTREAM": web_address,
            "PROXY_PORT": str(self.port),
            "PUBLISH_LISTEN": f"127.0.0.1:{self.publish_port}",
            "PROXY_RUN_DIR": str(run_dir),
            "PROXY_WORKER_CONNECTIONS": "4096",
            "ENGINE_NAME": self.name,
            **settings,
        }
        self.start()

    def start(self) -> None:
        """Start it (again, on the same ports, as a restarted host's engine)."""
        env = {**os.environ, **self.settings}
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.log = self.run_dir / "proxy.log"  # nginx's warnings and errors
        with self.log.open("a") as log:
            self.process = subprocess.Popen(
                [str(ROOT / "bin" / "proxy")],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # nginx's workers with it, stopped together
            )
        try:
            wait_for_port(self.port)
            wait_for_port(self.publish_port)
        except AssertionError as error:
            self.stop()
            raise AssertionError(f"bin/proxy did not start: {self.log.read_text()}") from error

    def kill(self) -> None:
        """As a host that dies: nginx's master and workers at once, nothing said."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()
