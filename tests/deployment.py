"""ChatPot as docs/OPERATIONS.md deploys it, started by a test on its own database: the
Procfile's web and worker processes with the production settings, behind deploy/'s proxy
and real-time engine (bin/proxy), one engine or several."""

import json
import os
import shlex
import signal
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from tests.app_process import database_environment
from tests.engine import Engine, free_port, wait_for_port

ROOT = Path(__file__).resolve().parents[1]


def procfile() -> dict[str, list[str]]:
    """The Procfile's process types and their commands (with the environment a command
    sets itself, `NAME=value ...`, as a shell runs it)."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name.strip(): shlex.split(command)
        for name, command in (line.split(":", 1) for line in lines if ":" in line)
    }


def start(command: list[str], env: dict, *, output=subprocess.PIPE) -> subprocess.Popen:
    """A Procfile command, run from the repository root with this environment's tools."""
    while "=" in command[0]:  # NAME=value before the program: its environment
        name, value = command[0].split("=", 1)
        env = {**env, name: value}
        command = command[1:]
    program = Path(sys.executable).with_name(command[0])
    if command[0] == "python":
        program = Path(sys.executable)
    return subprocess.Popen(
        [str(program), *command[1:]],
        cwd=ROOT,
        env=env,
        stdout=output,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,  # gunicorn's workers with it, stopped together
    )


def stop(process: subprocess.Popen) -> str:
    """Stop it as an operator does (SIGTERM), and what it said; it must end cleanly."""
    if process.poll() is None:
        process.send_signal(signal.SIGCONT)
        process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=40)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    output = process.stdout.read() if process.stdout else ""
    assert process.returncode in (0, -signal.SIGKILL), output
    return output


def fetch(url: str, *, data: dict | None = None, headers: dict | None = None):
    body = json.dumps(data).encode() if data is not None else None
    request = urllib.request.Request(
        url,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
        method="POST" if data is not None else "GET",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"exited early:\n{process.stdout.read()}")
        try:
            if fetch(url)[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"{url} did not answer in time")


_collected: dict[str, str] = {}


def collected_static() -> str:
    """The static files, collected once for the whole run (as `release` would)."""
    if "root" not in _collected:
        root = tempfile.mkdtemp(prefix="chatpot-static-")
        subprocess.run(
            [sys.executable, "manage.py", "collectstatic", "--no-input", "-v", "0"],
            cwd=ROOT,
            env={**production_environment(), "STATIC_ROOT": root},
            capture_output=True,
            text=True,
            timeout=300,
            check=True,
        )
        _collected["root"] = root
    return _collected["root"]


def production_environment(**extra: str) -> dict[str, str]:
    """The production settings, on the test's database (and its Redis, if it has one)."""
    cache = settings.CACHES["default"]
    redis = cache["LOCATION"] if cache["BACKEND"].endswith("RedisCache") else ""
    env = {
        **os.environ,
        **database_environment(),
        "DJANGO_SETTINGS_MODULE": "chatpot_project.settings",
        "DEBUG": "0",
        "SECRET_KEY": settings.SECRET_KEY,  # the test's sessions and tokens are good there
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "SECURE_COOKIES": "0",
        "LOG_LEVEL": "WARNING",
        "REDIS_URL": redis,
    }
    env.pop("LIVE_DEV_ENGINE", None)
    return {**env, **extra}


class Deployment:
    """The Procfile's web and worker behind `engines` engines (bin/proxy each, the app
    publishing to all). `url` is the first engine's public side; `web` the web process."""

    production = True

    def __init__(
        self,
        run_dir: Path,
        *,
        engines: int = 1,
        workers: int = 1,
        proxy: dict | None = None,
        **extra: str,
    ):
        """`proxy`: more of bin/proxy's environment; `extra`: more of the app's."""
        self.run_dir = run_dir
        self.web_port = free_port()
        self.web_url = f"http://127.0.0.1:{self.web_port}"
        self.engines = [
            Engine(
                f"127.0.0.1:{self.web_port}",
                run_dir / f"engine{n}",
                name=f"edge{n}",
                **(proxy or {}),
            )
            for n in range(1, engines + 1)
        ]
        self.url = self.engines[0].url
        self.env = production_environment(
            LIVE_PUBLISH_URL=",".join(engine.publish_url for engine in self.engines),
            STATIC_ROOT=collected_static(),
            WEB_CONCURRENCY="2",
            **extra,
        )
        self.logs: dict[str, Path] = {}
        self.processes: dict[str, subprocess.Popen] = {}
        try:
            self.start("web", PORT=str(self.web_port))
            for number in range(1, workers + 1):
                self.start(f"worker{number}" if workers > 1 else "worker")
            wait_until_up(f"{self.web_url}/healthz", self.processes["web"])
        except BaseException:
            self.stop()
            raise

    def start(self, name: str, **extra: str) -> subprocess.Popen:
        kind = "worker" if name.startswith("worker") else name
        log = self.run_dir / f"{name}.log"
        self.logs[name] = log
        with log.open("a") as output:
            process = start(procfile()[kind], {**self.env, **extra}, output=output)
        self.processes[name] = process
        return process

    def kill(self, name: str) -> None:
        """As a host's process that dies: SIGKILL, nothing said."""
        process = self.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def output(self, name: str) -> str:
        return self.logs[name].read_text()

    def stop(self) -> None:
        """Every process stopped, whatever failed."""
        for process in self.processes.values():
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(40)
                except (ProcessLookupError, subprocess.TimeoutExpired):
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
        for engine in self.engines:
            engine.stop()


class RedisOfItsOwn:
    """A Redis server for one test, on a port of its own, restarted at will."""

    def __init__(self, run_dir):
        self.port = free_port()
        self.run_dir = run_dir
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.start()

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.run_dir),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for_port(self.port)

    def kill(self) -> None:
        self.process.kill()
        self.process.wait(10)
