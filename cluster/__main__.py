"""bin/cluster: ChatPot on several hosts, each a network namespace (cluster/__init__.py).

bin/cluster up [--set NAME=VALUE ...] [--proxy-set NAME=VALUE ...]
bin/cluster status
bin/cluster run HOST -- COMMAND ...     (with the app's settings of that host)
bin/cluster kill HOST | start HOST
bin/cluster cut HOST SERVICE | heal HOST [SERVICE]
bin/cluster down
"""

import argparse
import sys
from pathlib import Path

from cluster import DEFAULT_DIR, HOSTS, Cluster, ClusterError, missing


def settings(pairs: list[str]) -> dict[str, str]:
    found = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise SystemExit(f"bin/cluster: {pair!r} is not NAME=VALUE")
        found[name] = value
    return found


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="bin/cluster", description=__doc__.splitlines()[0])
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help="the cluster's folder")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="make the hosts and start every service")
    up.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting of the app, on every app host")  # fmt: skip
    up.add_argument("--proxy-set", action="append", default=[], metavar="NAME=VALUE",
                    help="a setting of bin/proxy, on every edge")  # fmt: skip
    commands.add_parser("status", help="the hosts, their addresses and processes")
    commands.add_parser("down", help="stop and remove everything")
    for name, what in [("kill", "SIGKILL every process of a host"),
                       ("start", "start a host's services again")]:  # fmt: skip
        commands.add_parser(name, help=what).add_argument("host", choices=HOSTS)
    cut = commands.add_parser("cut", help="drop a host's traffic to another host")
    cut.add_argument("host", choices=HOSTS)
    cut.add_argument("service", choices=HOSTS)
    heal = commands.add_parser("heal", help="undo `cut` (all of the host's, or one)")
    heal.add_argument("host", choices=HOSTS)
    heal.add_argument("service", choices=HOSTS, nargs="?")
    run = commands.add_parser("run", help="run a command on a host: run HOST -- COMMAND ...")
    run.add_argument("host", choices=HOSTS)
    run.add_argument("argv", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)

    cluster = Cluster(args.dir)
    if args.command == "down":
        cluster.down()
        return 0
    if args.command == "status":
        print(cluster.status())
        return 0
    if why := missing():
        print(f"bin/cluster: {why}", file=sys.stderr)
        return 1
    if args.command != "up" and not cluster.state:
        print("bin/cluster: no cluster here (bin/cluster up makes one)", file=sys.stderr)
        return 1
    try:
        if args.command == "up":
            url = cluster.up(app=settings(args.set), proxy=settings(args.proxy_set))
            print(cluster.status())
            print(url)
        elif args.command == "kill":
            print(f"killed {len(cluster.kill(args.host))} processes of {args.host}")
        elif args.command == "start":
            cluster.start(args.host)
            print(cluster.status())
        elif args.command == "cut":
            cluster.cut(args.host, args.service)
        elif args.command == "heal":
            cluster.heal(args.host, args.service)
        elif args.command == "run":
            command = args.argv[1:] if args.argv[:1] == ["--"] else args.argv
            if not command:
                parser.error("run HOST -- COMMAND ...")
            return cluster.run(args.host, command)
    except ClusterError as error:
        print(f"bin/cluster: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
