"""Network verbs: ``berth network create|ls|inspect|rm|connect|disconnect|prune`` with Docker's
flags, and ``berth system check [--repair]``."""
from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from . import output

LS_TABLE = (("NETWORK ID", "NAME", "DRIVER", "SCOPE"), ("ID", "Name", "Driver", "Scope"))
LS_FILTERS = ("driver", "id", "label", "name", "scope", "type", "dangling")
BUILTIN = ("bridge", "host", "none")


def _manager() -> Any:
    from ..network import NetworkManager
    from ..store import Store

    manager = NetworkManager(Store())
    manager.ensure_default()
    return manager


def _service() -> Any:
    from ..container import ContainerService

    return ContainerService()


def register(commands: Any) -> None:
    group_parser = commands.add_parser("network", help="manage networks")
    group = group_parser.add_subparsers(dest="network_command", metavar="COMMAND",
                                        parser_class=type(group_parser))
    p = group.add_parser("create", help="create a network")
    p.add_argument("name", metavar="NETWORK")
    p.add_argument("-d", "--driver", default="bridge", help="driver to manage the network")
    p.add_argument("--subnet", action="append", default=[], help="subnet in CIDR format")
    p.add_argument("--gateway", action="append", default=[], help="IPv4 gateway of the subnet")
    p.add_argument("--ip-range", action="append", default=[],
                   help="allocate container IPs from a sub-range")
    p.add_argument("--internal", action="store_true", help="restrict external access")
    p.add_argument("--label", action="append", default=[], help="set metadata on a network")
    p.add_argument("-o", "--opt", action="append", default=[], help="set driver options")
    p.add_argument("--attachable", action="store_true", help="accepted (always attachable)")
    p.add_argument("--ipv6", action="store_true", help="enable IPv6 (not supported)")
    p.set_defaults(func=cmd_create)
    p = group.add_parser("ls", aliases=["list"], help="list networks")
    p.add_argument("-q", "--quiet", action="store_true", help="only display network IDs")
    p.add_argument("--no-trunc", action="store_true", help="do not truncate the output")
    p.add_argument("-f", "--filter", action="append", default=[], help="filter (driver=bridge)")
    p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-style template")
    p.set_defaults(func=cmd_ls)
    p = group.add_parser("inspect", help="display detailed information on networks")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    p.add_argument("-f", "--format", help="'json' or a Go-style template")
    p.add_argument("-v", "--verbose", action="store_true", help="accepted")
    p.set_defaults(func=cmd_inspect)
    p = group.add_parser("rm", aliases=["remove"], help="remove networks")
    p.add_argument("names", nargs="+", metavar="NETWORK")
    p.add_argument("-f", "--force", action="store_true", help="no error if a network is missing")
    p.set_defaults(func=cmd_rm)
    p = group.add_parser("connect", help="connect a container to a network")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("--alias", action="append", default=[], help="network-scoped alias")
    p.add_argument("--ip", default="", help="IPv4 address")
    p.set_defaults(func=cmd_connect)
    p = group.add_parser("disconnect", help="disconnect a container from a network")
    p.add_argument("network", metavar="NETWORK")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("-f", "--force", action="store_true", help="accepted")
    p.set_defaults(func=cmd_disconnect)
    p = group.add_parser("prune", help="remove all unused networks")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], help="label=KEY[=VALUE]")
    p.set_defaults(func=cmd_prune)


def register_system(system: Any) -> None:
    """``berth system check`` (the ``system`` group belongs to the container verbs)."""
    p = system.add_parser("check", help="report what crashed commands left behind (rules, "
                          "interfaces, namespaces, mounts); --repair removes it")
    p.add_argument("--repair", action="store_true", help="remove leftovers, recreate what is "
                   "missing")
    p.add_argument("--format", choices=["json"], help="print the report as JSON")
    p.set_defaults(func=cmd_system_check)


# -- create / ls / inspect / rm ---------------------------------------------------------------

def _single(values: list[str], flag: str) -> str | None:
    from ..errors import InvalidArgument

    if len(values) > 1:
        raise InvalidArgument(f"only one {flag} per network is supported")
    return values[0] if values else None


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from ..errors import InvalidArgument

    out = {}
    for item in items:
        key, _sep, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what}: {item!r}")
        out[key] = value
    return out


def cmd_create(args: argparse.Namespace) -> int:
    from ..errors import InvalidArgument

    if args.ipv6:
        raise InvalidArgument("IPv6 networks are not supported")
    info = _manager().create(args.name, subnet=_single(args.subnet, "--subnet"),
                             gateway=_single(args.gateway, "--gateway"),
                             ip_range=_single(args.ip_range, "--ip-range"),
                             internal=args.internal, labels=_pairs(args.label, "label"),
                             options=_pairs(args.opt, "option"), driver=args.driver)
    output.line(info["Id"])
    return 0


def _filters(items: list[str]) -> dict[str, list[str]]:
    from ..errors import InvalidArgument

    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or key not in LS_FILTERS:
            raise InvalidArgument(f"invalid filter '{item}'")
        if key == "type" and value not in ("custom", "builtin"):
            raise InvalidArgument(f"invalid filter: 'type'='{value}'")
        out.setdefault(key, []).append(value)
    return out


def _label_match(labels: dict[str, str], wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in labels and (not sep or labels[key] == value)


def matches(net: dict[str, Any], filters: dict[str, list[str]]) -> bool:
    """Docker's rules: values of one key are OR'ed (labels AND'ed), different keys AND'ed."""
    checks = {
        "driver": lambda v: net["Driver"] == v,
        "id": net["Id"].startswith,
        "name": lambda v: v in net["Name"],
        "scope": lambda v: net["Scope"] == v,
        "type": lambda v: (net["Name"] in BUILTIN) == (v == "builtin"),
        "dangling": lambda v: (not net["Containers"]) == (v.lower() in ("true", "1")),
    }
    for key, values in filters.items():
        if key == "label":
            if not all(_label_match(net["Labels"], v) for v in values):
                return False
        elif not any(checks[key](v) for v in values):
            return False
    return True


def cmd_ls(args: argparse.Namespace) -> int:
    filters = _filters(args.filter)
    nets = sorted(_manager().list(), key=lambda n: n["Name"])
    rows = []
    for net in nets:
        if not matches(net, filters):
            continue
        row = {"ID": net["Id"] if args.no_trunc else net["Id"][:12], "Name": net["Name"],
               "Driver": net["Driver"], "Scope": net["Scope"], "IPv6": "false",
               "Internal": "true" if net["Internal"] else "false",
               "Labels": ",".join(f"{k}={v}" for k, v in sorted(net["Labels"].items())),
               "CreatedAt": net["Created"]}
        rows.append(row)
    if args.quiet:
        output.lines(r["ID"] for r in rows)
        return 0
    output.emit(rows, args.format, LS_TABLE)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..errors import NotFound

    manager = _manager()
    docs, missing = [], []
    for name in args.names:
        try:
            docs.append(manager.inspect(name))
        except NotFound:
            missing.append(name)
    if docs or not missing:
        output.emit_documents(docs, args.format)
    for name in missing:
        output.error_line(f"Error: No such network: {name}")
    return 1 if missing else 0


def cmd_rm(args: argparse.Namespace) -> int:
    from ..errors import BerthError, NotFound

    manager = _manager()
    status = 0
    for name in args.names:
        try:
            manager.remove(name)
            output.line(name)
        except NotFound as exc:
            if not args.force:
                output.error_line(f"Error response from daemon: {exc}")
                status = 1
        except BerthError as exc:
            output.error_line(f"Error response from daemon: {exc}")
            status = 1
    return status


# -- connect / disconnect / prune -------------------------------------------------------------

def cmd_connect(args: argparse.Namespace) -> int:
    from ..container import networking

    networking.connect_container(_service(), args.container, args.network, args.alias, args.ip)
    return 0


def cmd_disconnect(args: argparse.Namespace) -> int:
    from ..container import networking

    networking.disconnect_container(_service(), args.container, args.network)
    return 0


def _confirm(question: str) -> bool:
    output.prompt(question + " [y/N] ")
    answer = sys.stdin.readline() if sys.stdin and not sys.stdin.closed else ""
    return answer.strip().lower() in ("y", "yes")


def cmd_prune(args: argparse.Namespace) -> int:
    """Every custom network without containers (a stopped container holds none, as in Docker)."""
    from ..errors import BerthError

    filters = {"label": [v.partition("=")[2] for v in args.filter if v.startswith("label=")]}
    if not args.force and not _confirm("WARNING! This will remove all custom networks not used "
                                       "by at least one container.\nAre you sure you want to "
                                       "continue?"):
        return 0
    manager = _manager()
    removed = []
    for net in sorted(manager.list(), key=lambda n: n["Name"]):
        if net["Name"] in BUILTIN or net["Containers"]:
            continue
        if filters["label"] and not matches(net, filters):
            continue
        try:
            manager.remove(net["Name"])
            removed.append(net["Name"])
        except BerthError as exc:  # in use since we looked: keep it
            output.error_line(f"Error: {exc}")
    if removed:
        output.line("Deleted Networks:")
        for name in removed:
            output.line(name)
    return 0


# -- system check -----------------------------------------------------------------------------

def cmd_system_check(args: argparse.Namespace) -> int:
    """Exit 0 when nothing is left over (or everything was repaired), 1 otherwise."""
    from ..container import networking

    report = networking.system_check(_service(), repair=args.repair)
    if args.format == "json":
        output.line(json.dumps(report, indent=2))
    else:
        net = report["network"]
        lines = [f"container: {p}" for p in report["containers"]]
        lines += [f"leaked: {x}" for x in net["leaked"]]
        lines += [f"missing: {x}" for x in net["missing"]]
        if net["foreign"]:
            lines.append(f"{len(net['foreign'])} objects of other berth roots on this host, left "
                         f"alone (--format json lists them)")
        for line in lines:
            output.line(line)
        if report["clean"]:
            output.line("nothing left over")
        elif args.repair:
            output.line("repaired")
    if args.repair:
        after = networking.system_check(_service(), repair=False)
        return 0 if after["clean"] else 1
    return 0 if report["clean"] else 1
