"""Read-only container verbs: ps, logs, inspect (containers, then images), top, stats, port."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Any

from . import output

PS_TABLE = (("CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"),
            ("ID", "Image", "Command", "RunningFor", "Status", "Ports", "Names"))
STATS_TABLE = (("CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O",
                "BLOCK I/O", "PIDS"),
               ("ID", "Name", "CPUPerc", "MemUsage", "MemPerc", "NetIO", "BlockIO", "PIDs"))


def _service() -> Any:
    from ..container import ContainerService

    return ContainerService()


def register(commands: Any, group: Any) -> None:
    for target, name, aliases in ((commands, "ps", []), (group, "ls", ["ps", "list"])):
        p = target.add_parser(name, aliases=aliases, help="list containers")
        p.add_argument("-a", "--all", action="store_true", help="show all containers")
        p.add_argument("-q", "--quiet", action="store_true", help="only display container IDs")
        p.add_argument("-l", "--latest", action="store_true", help="show the latest created container")
        p.add_argument("-n", "--last", type=int, default=-1, help="show n last created containers")
        p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
        p.add_argument("-s", "--size", action="store_true", help="accepted; sizes are not shown")
        p.add_argument("-f", "--filter", action="append", default=[], help="filter output")
        p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-style template")
        p.set_defaults(func=cmd_ps)
    for target in (commands, group):
        p = target.add_parser("logs", help="fetch the logs of a container")
        p.add_argument("container")
        p.add_argument("-f", "--follow", action="store_true", help="follow log output")
        p.add_argument("-t", "--timestamps", action="store_true", help="show timestamps")
        p.add_argument("-n", "--tail", default="all", help="lines to show from the end")
        p.add_argument("--since", help="show logs since a timestamp or relative time (42m)")
        p.set_defaults(func=cmd_logs)
        p = target.add_parser("top", help="display the running processes of a container")
        p.add_argument("container")
        p.add_argument("ps_args", nargs=argparse.REMAINDER, help="ignored (ps options)")
        p.set_defaults(func=cmd_top)
        p = target.add_parser("stats", help="display resource usage statistics")
        p.add_argument("containers", nargs="*", metavar="CONTAINER")
        p.add_argument("-a", "--all", action="store_true", help="show all containers")
        p.add_argument("--no-stream", action="store_true", help="print one sample and exit")
        p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
        p.add_argument("--format", help="'json' or a Go-style template")
        p.set_defaults(func=cmd_stats)
        p = target.add_parser("port", help="list port mappings of the container")
        p.add_argument("container")
        p.add_argument("private_port", nargs="?", help="PRIVATE_PORT[/PROTO]")
        p.set_defaults(func=cmd_port)
    p = group.add_parser("inspect", help="display detailed information on containers")
    p.add_argument("names", nargs="+", metavar="CONTAINER")
    p.add_argument("-f", "--format", help="'json' or a Go-style template")
    p.add_argument("-s", "--size", action="store_true", help="accepted; sizes are not shown")
    p.set_defaults(func=cmd_inspect, type="container")
    _extend_inspect(commands)


def _extend_inspect(commands: Any) -> None:
    """``berth inspect`` (registered by the image verbs) also finds containers, first."""
    p = commands.choices.get("inspect")
    if p is None:
        p = commands.add_parser("inspect", help="return low-level information on objects")
        p.add_argument("names", nargs="+", metavar="NAME")
        p.add_argument("-f", "--format", help="'json' or a Go-style template")
        p.add_argument("--type", choices=["container", "image"], help="only this type of object")
    else:
        for action in p._actions:  # noqa: SLF001 - widen --type to containers
            if action.dest == "type":
                action.choices = ["container", "image"]
    p.set_defaults(func=cmd_inspect)


# -- ps -----------------------------------------------------------------------------------------

def cmd_ps(args: argparse.Namespace) -> int:
    from ..container import matches, parse_filters, ps_row

    svc = _service()
    filters = parse_filters(args.filter)
    containers = svc.list()  # newest first
    show_all = args.all or args.latest or args.last >= 0 or "status" in filters
    if not show_all:
        containers = [c for c in containers if c.running]
    image_ids: dict[str, str] = {}
    for value in filters.get("ancestor", []):
        try:
            image_ids[value] = svc.images.resolve(value).id
        except Exception:  # noqa: BLE001 - an unknown image simply matches nothing
            pass
    containers = [c for c in containers if matches(c, filters, image_ids)]
    if args.latest:
        containers = containers[:1]
    elif args.last >= 0:
        containers = containers[:args.last]
    rows = [ps_row(c, args.no_trunc) for c in containers]
    if args.quiet:
        output.lines(r["ID"] for r in rows)
        return 0
    output.emit(rows, args.format, PS_TABLE)
    return 0


# -- logs ---------------------------------------------------------------------------------------

def cmd_logs(args: argparse.Namespace) -> int:
    from ..container import logs
    from ..errors import InvalidArgument
    from ..shim import read_logs

    svc = _service()
    c = svc.resolve(args.container)
    tail = None
    if args.tail != "all":
        try:
            tail = int(args.tail)
        except ValueError:
            raise InvalidArgument(f"invalid value for --tail: {args.tail}") from None
    since = logs.parse_since(args.since) if args.since else None

    def stopped() -> bool:
        current = svc.records.get(c.id)
        return current is None or not svc._reconcile(current).running  # noqa: SLF001

    for stream, data in read_logs(svc.paths(c.id).log, follow=args.follow, tail=tail, since=since,
                                  timestamps=args.timestamps, stop=stopped):
        target = sys.stderr if stream == "stderr" else sys.stdout
        target.buffer.write(data)
        target.buffer.flush()
    return 0


# -- inspect ------------------------------------------------------------------------------------

def cmd_inspect(args: argparse.Namespace) -> int:
    from ..container import inspect as container_inspect
    from ..errors import NotFound

    svc = _service()
    docs, missing = [], []
    kind = getattr(args, "type", None)
    for name in args.names:
        doc = None
        if kind in (None, "container"):
            try:
                c = svc.resolve(name)
                lower: list[str] = []
                try:
                    lower = svc.images.lowerdirs(svc.images.get(c.image_id))
                except NotFound:
                    pass
                doc = container_inspect(c, svc.paths(c.id), lower)
            except NotFound:
                doc = None
        if doc is None and kind in (None, "image"):
            from ..image import inspect as image_inspect

            try:
                doc = image_inspect(svc.images, svc.images.resolve(name))
            except NotFound:
                doc = None
        if doc is None:
            missing.append(name)
        else:
            docs.append(doc)
    return output.emit_found(docs, missing, args.format)


# -- top / stats / port -------------------------------------------------------------------------

def cmd_top(args: argparse.Namespace) -> int:
    from ..container.tools import top

    result = top(_service(), args.container)
    output.print_table(result["Titles"], result["Processes"])
    return 0


def _stats_row(svc: Any, c: Any, no_trunc: bool) -> dict[str, Any]:
    from ..container.tools import stats

    s = stats(svc, c)
    return {"ID": c.id if no_trunc else c.short_id, "Name": c.name, "Container": c.short_id,
            "CPUPerc": f"{s['CPUPerc']:.2f}%",
            "MemUsage": f"{_binary_size(s['MemUsage'])} / {_binary_size(s['MemLimit'])}",
            "MemPerc": f"{s['MemPerc']:.2f}%", "NetIO": "0B / 0B", "BlockIO": "0B / 0B",
            "PIDs": str(s["PIDs"])}


def _binary_size(value: float) -> str:
    units = ["B", "KiB", "MiB", "GiB", "TiB"]
    i = 0
    while value >= 1024 and i < len(units) - 1:
        value /= 1024.0
        i += 1
    return f"{value:.4g}{units[i]}"


def cmd_stats(args: argparse.Namespace) -> int:
    svc = _service()
    while True:
        if args.containers:
            containers = [svc.resolve(n) for n in args.containers]
        else:
            containers = [c for c in svc.list() if args.all or c.running]
        rows = [_stats_row(svc, c, args.no_trunc) for c in containers]
        if not args.no_stream and sys.stdout.isatty():
            output.write("\x1b[2J\x1b[H")  # clear the screen, cursor home
        output.emit(rows, args.format, STATS_TABLE)
        sys.stdout.flush()
        if args.no_stream:
            return 0
        time.sleep(0.8)


def cmd_port(args: argparse.Namespace) -> int:
    """Docker's ``port``: every mapping, or the host addresses of one ``PRIVATE_PORT[/PROTO]``."""
    from ..container.inspect import network_settings
    from ..errors import NotFound

    svc = _service()
    c = svc.resolve(args.container)
    ports = network_settings(c)["Ports"]
    if args.private_port:
        key = args.private_port if "/" in args.private_port else args.private_port + "/tcp"
        bindings = ports.get(key)
        if not bindings:
            raise NotFound(f"No public port '{key}' published for {args.container}")
        for b in bindings:
            output.line(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}")
        return 0
    for private in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        for b in ports[private] or []:
            output.line(f"{private} -> {b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}")
    return 0
