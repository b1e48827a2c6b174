"""ChatPot on several hosts, on one machine: each host a Linux network namespace of its own
(its own network stack, address and ports), joined by a bridge, as docs/OPERATIONS.md
("Several hosts") lays them out. Run by `bin/cluster` (as root) and by tests/cluster/.

    db       PostgreSQL, a server of its own (initdb in the cluster's folder)
    redis    Redis
    app1     the Procfile's web and worker
    app2     the Procfile's web and worker
    edge1    bin/proxy: nginx and its engine, in front of both apps
    edge2    bin/proxy, the same; the apps publish to both engines
    lb       nginx in front of both edges: the public door (deploy/balancer.conf.template)
    metrics  Prometheus, scraping every app host and every edge (when it is installed)
    client   nothing of its own: for load and probes (`bin/cluster run client -- ...`)

Every address is in one private /24 (SUBNET) that nothing routes anywhere else: the hosts
have no default route, and the machine reaches them through the bridge's own address.
What runs where is written to the cluster's folder (`cluster.json`), which every command
reads; `down` removes every namespace, link and process by their names, with or without it.
"""

import contextlib
import glob
import json
import os
import secrets
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DIR = Path("/tmp/chatpot-cluster")
SUBNET = "10.231.7"  # one private /24 for the hosts, and only for them
PREFIX = "chatpot-"  # every namespace's name begins with it; the bridge is PREFIX + "br"
BRIDGE = PREFIX + "br"
GATEWAY = f"{SUBNET}.1"  # the bridge: the machine's own way to the hosts
PUBLIC_PORT = 8080
WEB_PORT = 8000
PUBLISH_PORT = 8081
MODEL_PORT = 9000  # where a test's model server listens, on `client`


@dataclass(frozen=True)
class Host:
    name: str
    number: int  # the last byte of its address

    @property
    def address(self) -> str:
        return f"{SUBNET}.{self.number}"

    @property
    def namespace(self) -> str:
        return PREFIX + self.name

    @property
    def link(self) -> str:  # the machine's end of its cable (at most 15 characters)
        return f"cp-{self.name}"


HOSTS = {
    host.name: host
    for host in [
        Host("db", 10),
        Host("redis", 11),
        Host("app1", 21),
        Host("app2", 22),
        Host("edge1", 31),
        Host("edge2", 32),
        Host("lb", 40),
        Host("metrics", 45),
        Host("client", 50),
    ]
}
APPS = ["app1", "app2"]
EDGES = ["edge1", "edge2"]
PUBLIC_URL = f"http://{HOSTS['lb'].address}:{PUBLIC_PORT}"


class ClusterError(Exception):
    pass


def ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, check=check)


def missing() -> str:
    """Why the cluster cannot be made here, or ""."""
    if os.geteuid() != 0:
        return "needs root: network namespaces (ip netns) are made as root"
    for tool, package in [
        ("ip", "iproute2"),
        ("nginx", "nginx libnginx-mod-nchan"),
        ("redis-server", "redis-server"),
        ("runuser", "util-linux"),
        ("envsubst", "gettext-base"),
    ]:
        if not shutil.which(tool):
            return f"needs {tool} (apt-get install {package})"
    if not postgres_bin():
        return "needs PostgreSQL's server binaries (/usr/lib/postgresql/*/bin/initdb)"
    if not Path("/usr/lib/nginx/modules/ngx_nchan_module.so").exists():
        return "needs nginx's nchan module (apt-get install libnginx-mod-nchan)"
    if ip("netns", "list", check=False).returncode != 0:
        return "needs network namespaces (ip netns list failed)"
    return ""


def postgres_bin() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    return Path(found[-1]).parent if found else None


def _version(path: str) -> int:
    return int(Path(path).parts[-3]) if Path(path).parts[-3].isdigit() else 0


def wait_for(what: str, check, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise ClusterError(f"{what} did not come up within {seconds:.0f} s")


def answers(address: str, port: int) -> bool:
    with socket.create_connection((address, port), timeout=1):
        return True


def healthy(url: str) -> bool:
    with urllib.request.urlopen(url, timeout=2) as response:
        return response.status == 200


def fill(template: Path, **values: str) -> str:
    """A template of deploy/ with its ${NAME}s filled in (nginx's own $names left alone)."""
    text = template.read_text()
    for name, value in values.items():
        text = text.replace("${" + name + "}", value)
    return text


def clear_stale_locks(*locks: Path) -> None:
    """A PostgreSQL killed with its host leaves its lock files behind (its folder's and its
    socket's), naming a process that is gone, or dying, or a zombie not yet reaped, which
    PostgreSQL takes for a server still running."""
    for lock in locks:
        if not lock.exists():
            continue
        pid = lock.read_text().split("\n", 1)[0].strip()
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and process_state(pid) not in ("gone", "Z", "X"):
            time.sleep(0.1)
        if process_state(pid) in ("gone", "Z", "X"):
            lock.unlink(missing_ok=True)


def process_state(pid: str) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "gone"


def procfile() -> dict[str, list[str]]:
    """The Procfile's commands, each run with `env` (a command's own NAME=value first)."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    return {
        name.strip(): ["env", *shlex.split(command)]
        for name, command in (line.split(":", 1) for line in lines if ":" in line)
    }


class Cluster:
    """The cluster in `folder`: made by `up`, read back by every other command."""

    def __init__(self, folder: Path = DEFAULT_DIR):
        self.folder = Path(folder)
        self.state_file = self.folder / "cluster.json"
        self.state: dict = {}
        if self.state_file.exists():
            self.state = json.loads(self.state_file.read_text())

    # -- the hosts --------------------------------------------------------------------

    def up(self, *, app: dict | None = None, proxy: dict | None = None) -> str:
        """Every host made and its services started; the public URL. `app`: more of the
        app's settings (each app host's web and worker); `proxy`: more of bin/proxy's."""
        if why := missing():
            raise ClusterError(why)
        self.down()
        self.folder.mkdir(parents=True, exist_ok=True)
        self.folder.chmod(0o755)  # nginx's and PostgreSQL's own users read below it
        self.state = {
            "folder": str(self.folder),
            "url": PUBLIC_URL,
            "secret_key": secrets.token_urlsafe(50),
            "metrics_token": secrets.token_urlsafe(24),
            "app": app or {},
            "proxy": proxy or {},
            "hosts": {
                name: {"address": host.address, "namespace": host.namespace, "processes": {}}
                for name, host in HOSTS.items()
            },
            "cut": {},
        }
        try:
            self._network()
            self._save()
            for name in ["db", "redis"]:
                self.start(name)
            self._release()
            for name in [*APPS, *EDGES, "lb", "metrics"]:
                self.start(name)
        except ClusterError as error:
            said = "".join(
                f"\n-- {log.name}:\n" + "\n".join(log.read_text().splitlines()[-15:])
                for log in sorted(self.folder.glob("*.log"))
                if log.stat().st_size
            )
            self.down()
            raise ClusterError(f"{error}{said}") from None
        except BaseException:
            self.down()
            raise
        return PUBLIC_URL

    def _network(self) -> None:
        ip("link", "add", BRIDGE, "type", "bridge")
        ip("addr", "add", f"{GATEWAY}/24", "dev", BRIDGE)
        ip("link", "set", BRIDGE, "up")
        for host in HOSTS.values():
            ip("netns", "add", host.namespace)
            ip("link", "add", host.link, "type", "veth", "peer", "name", "eth0", "netns",
               host.namespace)  # fmt: skip
            ip("link", "set", host.link, "master", BRIDGE)
            ip("link", "set", host.link, "up")
            inside = ["netns", "exec", host.namespace, "ip"]
            ip(*inside, "addr", "add", f"{host.address}/24", "dev", "eth0")
            ip(*inside, "link", "set", "eth0", "up")
            ip(*inside, "link", "set", "lo", "up")

    def down(self) -> None:
        """Every process of every host killed, every namespace and the bridge removed, the
        folder too: by their names, whatever state the cluster was left in."""
        listed = ip("netns", "list", check=False).stdout.split()
        for namespace in [name for name in listed if name.startswith(PREFIX)]:
            self._kill_namespace(namespace)
            ip("netns", "delete", namespace, check=False)
        for host in HOSTS.values():  # a cable left behind by a run cut short
            ip("link", "delete", host.link, check=False)
        ip("link", "delete", BRIDGE, check=False)
        if self.folder.exists():
            shutil.rmtree(self.folder, ignore_errors=True)
        self.state = {}

    def _kill_namespace(self, namespace: str) -> None:
        for _ in range(20):
            pids = [int(pid) for pid in ip("netns", "pids", namespace, check=False).stdout.split()]
            if not pids:
                return
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.1)
        raise ClusterError(f"the processes of {namespace} would not die")

    def kill(self, name: str) -> list[int]:
        """Every process of the host SIGKILLed at once, as a host that loses its power;
        their process ids."""
        host = HOSTS[name]
        pids = [int(pid) for pid in ip("netns", "pids", host.namespace).stdout.split()]
        self._kill_namespace(host.namespace)
        self.state["hosts"][name]["processes"] = {}
        self._save()
        return pids

    def cut(self, name: str, service: str) -> None:
        """The host's traffic to another host dropped (a blackhole route inside it), as a
        network that fails between the two; until `heal`."""
        target = HOSTS[service].address
        self.run_quietly(name, ["ip", "route", "add", "blackhole", f"{target}/32"])
        self.state["cut"].setdefault(name, []).append(service)
        self._save()

    def heal(self, name: str, service: str | None = None) -> None:
        for cut in list(self.state["cut"].get(name, [])):
            if service in (None, cut):
                self.run_quietly(
                    name, ["ip", "route", "del", "blackhole", f"{HOSTS[cut].address}/32"]
                )
                self.state["cut"][name].remove(cut)
        self._save()

    # -- the services -----------------------------------------------------------------

    def start(self, name: str) -> None:
        """The host's services started (after `kill`, as the host comes back)."""
        {
            "db": self._db,
            "redis": self._redis,
            "app1": lambda: self._app("app1"),
            "app2": lambda: self._app("app2"),
            "edge1": lambda: self._edge("edge1"),
            "edge2": lambda: self._edge("edge2"),
            "lb": self._balancer,
            "metrics": self._prometheus,
            "client": lambda: None,
        }[name]()

    def _db(self) -> None:
        folder, data = self.folder / "db", self.folder / "db" / "data"
        address = HOSTS["db"].address
        binaries = postgres_bin()
        if not data.exists():
            folder.mkdir(exist_ok=True)
            shutil.chown(folder, "postgres", "postgres")
            made = subprocess.run(
                ["runuser", "-u", "postgres", "--", str(binaries / "initdb"), "-D", str(data),
                 "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-sync"],
                capture_output=True, text=True, cwd="/",
            )  # fmt: skip
            if made.returncode != 0:
                raise ClusterError(f"initdb failed:\n{made.stdout}{made.stderr}")
            with (data / "pg_hba.conf").open("a") as hba:
                hba.write(f"host all all {SUBNET}.0/24 trust\n")
        clear_stale_locks(data / "postmaster.pid", folder / ".s.PGSQL.5432.lock")
        self.spawn(
            "db", "postgres",
            ["runuser", "-u", "postgres", "--", str(binaries / "postgres"), "-D", str(data),
             "-c", f"listen_addresses={address}", "-p", "5432",
             "-c", f"unix_socket_directories={folder}", "-c", "max_connections=200"],
            cwd="/",
        )  # fmt: skip
        wait_for("PostgreSQL", lambda: answers(address, 5432))
        wait_for("PostgreSQL", lambda: self._psql("select 1").returncode == 0)
        if "chatpot" not in self._psql("select datname from pg_database").stdout:
            self._psql("create database chatpot")

    def _psql(self, sql: str) -> subprocess.CompletedProcess:
        return subprocess.run(
            ["psql", "-h", HOSTS["db"].address, "-U", "postgres", "-d", "postgres", "-Atc", sql],
            capture_output=True, text=True,
        )  # fmt: skip

    def _redis(self) -> None:
        address = HOSTS["redis"].address
        folder = self.folder / "redis"
        folder.mkdir(exist_ok=True)
        self.spawn(
            "redis", "redis",
            ["redis-server", "--bind", address, "--port", "6379", "--save", "",
             "--appendonly", "no", "--protected-mode", "no", "--dir", str(folder)],
        )  # fmt: skip
        wait_for("Redis", lambda: answers(address, 6379))

    def app_environment(self, name: str) -> dict[str, str]:
        """The app's settings on host `name`: the production settings, its database and
        Redis on their hosts, publishing to every edge's engine."""
        folder = self.folder / name
        metrics = folder / "metrics"
        return {
            "PATH": f"{Path(sys.executable).parent}:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME": str(folder),
            "LANG": "C.UTF-8",
            "DJANGO_SETTINGS_MODULE": "chatpot_project.settings",
            "DEBUG": "0",
            "SECRET_KEY": self.state["secret_key"],
            "DATABASE_URL": f"postgres://postgres@{HOSTS['db'].address}:5432/chatpot",
            "REDIS_URL": f"redis://{HOSTS['redis'].address}:6379/0",
            # The public's name, and the host's own (Prometheus scrapes each app host by it).
            "ALLOWED_HOSTS": f"{HOSTS['lb'].address},{HOSTS[name].address},localhost",
            "SECURE_COOKIES": "0",
            "LIVE_PUBLISH_URL": ",".join(
                f"http://{HOSTS[edge].address}:{PUBLISH_PORT}/publish" for edge in EDGES
            ),
            # The load balancer's address, then the edge's: the client's is the one before.
            "NUM_PROXIES": "2",
            "PORT": str(WEB_PORT),
            "WEB_CONCURRENCY": "2",
            "STATIC_ROOT": str(self.folder / "static"),
            "PROMETHEUS_MULTIPROC_DIR": str(metrics),
            "METRICS_TOKEN": self.state["metrics_token"],
            "LOG_LEVEL": "WARNING",
            **self.state["app"],
        }

    def _release(self) -> None:
        """The Procfile's release (the migrations) and the static files, once, from app1."""
        (self.folder / "app1").mkdir(exist_ok=True)
        env = self.app_environment("app1")
        for command in [procfile()["release"], ["python", "manage.py", "collectstatic",
                                                "--no-input", "-v", "0"]]:  # fmt: skip
            done = self.run_quietly("app1", command, env=env)
            if done.returncode != 0:
                raise ClusterError(f"{shlex.join(command)} failed:\n{done.stdout}{done.stderr}")

    def _app(self, name: str) -> None:
        folder = self.folder / name
        metrics = folder / "metrics"
        shutil.rmtree(metrics, ignore_errors=True)  # empty at the host's start
        metrics.mkdir(parents=True)
        env = self.app_environment(name)
        self.spawn(name, "web", procfile()["web"], env=env)
        self.spawn(name, "worker", procfile()["worker"], env=env)
        url = f"http://{HOSTS[name].address}:{WEB_PORT}/healthz"
        wait_for(f"{name}'s web", lambda: healthy(url))

    def _edge(self, name: str) -> None:
        host = HOSTS[name]
        env = {
            "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
            "WEB_UPSTREAM": " ".join(f"{HOSTS[app].address}:{WEB_PORT}" for app in APPS),
            "PROXY_PORT": str(PUBLIC_PORT),
            "PUBLISH_LISTEN": f"{host.address}:{PUBLISH_PORT}",
            "ENGINE_NAME": name,
            "PROXY_RUN_DIR": str(self.folder / name),
            "PROXY_TRUSTED_FRONT": f"{HOSTS['lb'].address}/32",
            **self.state["proxy"],
        }
        shutil.rmtree(self.folder / name, ignore_errors=True)
        self.spawn(name, "proxy", [str(ROOT / "bin" / "proxy")], env=env)
        wait_for(f"{name}'s proxy", lambda: answers(host.address, PUBLIC_PORT))
        wait_for(f"{name}'s engine", lambda: answers(host.address, PUBLISH_PORT))

    def _balancer(self) -> None:
        folder = self.folder / "lb"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        folder.chmod(0o755)
        edges = "\n".join(
            f"    server {HOSTS[edge].address}:{PUBLIC_PORT} max_fails=1 fail_timeout=5s;"
            for edge in EDGES
        )
        configuration = fill(
            ROOT / "deploy" / "balancer.conf.template",
            BALANCER_DIR=str(folder),
            BALANCER_LISTEN=f"{HOSTS['lb'].address}:{PUBLIC_PORT}",
            BALANCER_EDGES=edges.strip(),
        )
        (folder / "nginx.conf").write_text(configuration)
        self.spawn("lb", "nginx", ["nginx", "-p", str(folder), "-c", str(folder / "nginx.conf"),
                                   "-e", "stderr"])  # fmt: skip
        wait_for("the load balancer", lambda: healthy(f"{PUBLIC_URL}/healthz"))

    def _prometheus(self) -> None:
        if not shutil.which("prometheus"):
            return  # the cluster runs without it; tests/cluster/ asks for it
        folder = self.folder / "metrics-host"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir()
        token = folder / "token"
        token.write_text(self.state["metrics_token"])
        (folder / "prometheus.yml").write_text(
            fill(
                ROOT / "deploy" / "prometheus.cluster.yml",
                METRICS_TOKEN_FILE=str(token),
                APP_TARGETS=", ".join(f'"{HOSTS[app].address}:{WEB_PORT}"' for app in APPS),
            )
        )
        address = HOSTS["metrics"].address
        self.spawn(
            "metrics", "prometheus",
            ["prometheus", f"--config.file={folder / 'prometheus.yml'}",
             f"--storage.tsdb.path={folder / 'data'}", f"--web.listen-address={address}:9090"],
        )  # fmt: skip
        wait_for("Prometheus", lambda: healthy(f"http://{address}:9090/-/ready"))

    # -- processes on a host ----------------------------------------------------------

    def spawn(self, name: str, service: str, command: list[str], *, env=None, cwd=None) -> int:
        """`command` started on host `name` in the background (its output in the folder's
        NAME/SERVICE.log); its process id."""
        host = HOSTS[name]
        folder = self.folder / name
        folder.mkdir(exist_ok=True)
        log = folder.parent / f"{name}.{service}.log"
        with log.open("a") as output:
            process = subprocess.Popen(
                ["ip", "netns", "exec", host.namespace, *command],
                cwd=cwd or ROOT,
                env=env if env is not None else {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.state["hosts"][name]["processes"][service] = process.pid
        self._save()
        return process.pid

    def run(self, name: str, command: list[str], *, env=None) -> int:
        """`command` on host `name`, in the foreground, with the app's settings there."""
        if env is None:
            env = self.app_environment(name) if self.state else os.environ.copy()
        return subprocess.call(["ip", "netns", "exec", HOSTS[name].namespace, *command],
                               cwd=ROOT, env=env)  # fmt: skip

    def run_quietly(
        self, name: str, command: list[str], *, env=None
    ) -> subprocess.CompletedProcess:
        if env is None:
            env = self.app_environment(name)
        return subprocess.run(
            ["ip", "netns", "exec", HOSTS[name].namespace, *command],
            cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
        )  # fmt: skip

    def manage(self, *args: str, host: str = "app1") -> str:
        """`python manage.py ARGS` on an app host, as an operator runs it there; its output."""
        done = self.run_quietly(host, ["python", "manage.py", *args])
        if done.returncode != 0:
            raise ClusterError(f"manage.py {shlex.join(args)}:\n{done.stdout}{done.stderr}")
        return done.stdout

    def log(self, name: str, service: str) -> str:
        path = self.folder / f"{name}.{service}.log"
        return path.read_text() if path.exists() else ""

    def status(self) -> str:
        if not self.state:
            return "no cluster (bin/cluster up makes one)"
        lines = [f"public: {self.state['url']}"]
        for name, host in self.state["hosts"].items():
            running = ip("netns", "pids", host["namespace"], check=False).stdout.split()
            services = ", ".join(
                f"{service} {pid}" + ("" if str(pid) in running else " (gone)")
                for service, pid in host["processes"].items()
            )
            cut = ", ".join(self.state["cut"].get(name, []))
            lines.append(
                f"{name:8} {host['address']:12} {len(running):3} processes"
                + (f"  {services}" if services else "")
                + (f"  cut from: {cut}" if cut else "")
            )
        return "\n".join(lines)

    def _save(self) -> None:
        self.state_file.write_text(json.dumps(self.state, indent=2))
