"""Volume verbs: ``berth volume create|ls|inspect|rm|prune``."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from . import output

VOLUME_TABLE = (("DRIVER", "VOLUME NAME"), ("Driver", "Name"))
_PRUNE_WARNING = {
    False: "WARNING! This will remove anonymous local volumes not used by at least one container.",
    True: "WARNING! This will remove all local volumes not used by at least one container.",
}


def _volumes() -> Any:
    from ..volume import VolumeStore

    return VolumeStore()


def register(commands: Any) -> None:
    group_parser = commands.add_parser("volume", help="manage volumes")
    group = group_parser.add_subparsers(dest="volume_command", metavar="COMMAND",
                                        parser_class=type(group_parser))
    p = group.add_parser("create", help="create a volume")
    p.add_argument("name", nargs="?", metavar="VOLUME", help="name (random when not given)")
    p.add_argument("-d", "--driver", default="local", help="volume driver name")
    p.add_argument("-o", "--opt", action="append", default=[],
                   help="driver options: type=tmpfs,device=tmpfs,o=size=64m or "
                        "type=none,o=bind,device=/path")
    p.add_argument("-l", "--label", action="append", default=[], help="set metadata")
    p.set_defaults(func=cmd_create)
    p = group.add_parser("ls", aliases=["list"], help="list volumes")
    p.add_argument("-q", "--quiet", action="store_true", help="only display volume names")
    p.add_argument("-f", "--filter", action="append", default=[],
                   help="filter output: dangling=true|false, name=, label=k[=v], driver=")
    p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-style template")
    p.set_defaults(func=cmd_ls)
    p = group.add_parser("inspect", help="display detailed information on volumes")
    p.add_argument("names", nargs="+", metavar="VOLUME")
    p.add_argument("-f", "--format", help="'json' or a Go-style template")
    p.set_defaults(func=cmd_inspect)
    p = group.add_parser("rm", aliases=["remove"], help="remove volumes")
    p.add_argument("names", nargs="+", metavar="VOLUME")
    p.add_argument("-f", "--force", action="store_true", help="no error for missing volumes")
    p.set_defaults(func=cmd_rm)
    p = group.add_parser("prune", help="remove unused anonymous volumes (--all: named too)")
    p.add_argument("-a", "--all", action="store_true", help="remove all unused volumes")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], help="label=k[=v], label!=k[=v]")
    p.set_defaults(func=cmd_prune)


def _options(items: list[str]) -> dict[str, str]:
    from ..errors import InvalidArgument

    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"invalid key/value pair format in driver options: {item!r}")
        out[key] = value
    return out


def cmd_create(args: argparse.Namespace) -> int:
    from ..container import parse_labels

    vol = _volumes().create(args.name, args.driver, parse_labels(args.label), _options(args.opt))
    output.line(vol.name)
    return 0


def _row(vol: Any) -> dict[str, Any]:
    return {"Driver": vol.driver, "Name": vol.name, "Mountpoint": vol.mountpoint,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(vol.labels.items())),
            "Scope": "local", "Size": "N/A", "Links": "N/A"}


def cmd_ls(args: argparse.Namespace) -> int:
    from ..volume import LIST_FILTERS, parse_filters

    vols = _volumes().list(parse_filters(args.filter, LIST_FILTERS))
    if args.quiet:
        output.lines(v.name for v in vols)
        return 0
    output.emit([_row(v) for v in vols], args.format, VOLUME_TABLE)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..errors import NotFound

    store = _volumes()
    docs, status = [], 0
    for name in args.names:
        try:
            docs.append(store.get(name).inspect())
        except NotFound as exc:
            output.error_line(f"Error: {exc}")
            status = 1
    if docs or not status:
        output.emit_documents(docs, args.format)
    return status


def cmd_rm(args: argparse.Namespace) -> int:
    from ..errors import BerthError

    store = _volumes()
    status = 0
    for name in args.names:
        try:
            store.remove(name, force=args.force)
            output.line(name)
        except BerthError as exc:
            output.error_line(f"Error response from daemon: {exc}")
            status = 1
    return status


def cmd_prune(args: argparse.Namespace) -> int:
    from ..volume import PRUNE_FILTERS, parse_filters

    filters = parse_filters(args.filter, PRUNE_FILTERS)
    if args.all:
        filters["all"] = ["true"]
    everything = "all" in filters and filters["all"][-1].lower() in ("true", "1")
    if not args.force:
        output.prompt(_PRUNE_WARNING[everything] + "\nAre you sure you want to continue? [y/N] ")
        if sys.stdin.readline().strip().lower() not in ("y", "yes"):
            return 0
    removed, reclaimed = _volumes().prune(filters)
    if removed:
        output.line("Deleted Volumes:")
        output.line("\n".join(removed))
        output.line()
    output.line(f"Total reclaimed space: {output.human_size(reclaimed)}")
    return 0
