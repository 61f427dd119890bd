"""Image verbs: images, tag, rmi, history, inspect, import, save, load, image prune."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from . import output

IMAGE_TABLE = (("REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"),
               ("Repository", "Tag", "ID", "CreatedSince", "Size"))
HISTORY_TABLE = (("IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"),
                 ("ID", "CreatedSince", "CreatedBy", "Size", "Comment"))


def register(commands: Any) -> None:
    image_group = commands.add_parser("image", help="manage images")
    group = image_group.add_subparsers(dest="image_command", metavar="COMMAND",
                                       parser_class=type(image_group))
    for name, aliases in (("ls", ["list"]), ("images", [])):
        target = group if name == "ls" else commands
        p = target.add_parser(name, aliases=aliases, help="list images")
        p.add_argument("repository", nargs="?", help="only images of this repository[:tag]")
        p.add_argument("-a", "--all", action="store_true", help="show all images")
        p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
        p.add_argument("--digests", action="store_true", help="show digests")
        p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
        p.add_argument("-f", "--filter", action="append", default=[], help="filter output (name=value)")
        p.add_argument("--format", help="'json', 'table TEMPLATE' or a Go-style template")
        p.set_defaults(func=cmd_images)
    for target, name in ((commands, "tag"), (group, "tag")):
        p = target.add_parser(name, help="create a tag TARGET_IMAGE that refers to SOURCE_IMAGE")
        p.add_argument("source")
        p.add_argument("target")
        p.set_defaults(func=cmd_tag)
    for target, name, aliases in ((commands, "rmi", []), (group, "rm", ["remove"])):
        p = target.add_parser(name, aliases=aliases, help="remove one or more images")
        p.add_argument("images", nargs="+", metavar="IMAGE")
        p.add_argument("-f", "--force", action="store_true", help="force removal of the image")
        p.add_argument("--no-prune", action="store_true", help="do not delete untagged parents")
        p.set_defaults(func=cmd_rmi)
    for target in (commands, group):
        p = target.add_parser("history", help="show the history of an image")
        p.add_argument("image")
        p.add_argument("-H", "--human", action=argparse.BooleanOptionalAction, default=True,
                       help="print sizes and dates in human readable format")
        p.add_argument("--no-trunc", action="store_true", help="don't truncate output")
        p.add_argument("-q", "--quiet", action="store_true", help="only show image IDs")
        p.add_argument("--format", help="'json' or a Go-style template")
        p.set_defaults(func=cmd_history)
    for target, name in ((commands, "inspect"), (group, "inspect")):
        p = target.add_parser(name, help="return low-level information on objects")
        p.add_argument("names", nargs="+", metavar="NAME")
        p.add_argument("-f", "--format", help="'json' or a Go-style template")
        p.add_argument("--type", choices=["image"], help="only this type of object")
        p.set_defaults(func=cmd_inspect)
    for target in (commands, group):
        p = target.add_parser("import", help="import a root filesystem tarball as an image")
        p.add_argument("file", help="tarball path, or - for standard input")
        p.add_argument("reference", nargs="?", help="REPOSITORY[:TAG] for the new image")
        p.add_argument("-c", "--change", action="append", default=[],
                       help="apply a Dockerfile instruction (CMD, ENV, ...) to the image")
        p.add_argument("-m", "--message", default="", help="commit message for the imported image")
        p.add_argument("--platform", help="accepted for compatibility; must match this host")
        p.set_defaults(func=cmd_import)
    for target in (commands, group):
        p = target.add_parser("save", help="save images to a tar archive or OCI layout")
        p.add_argument("images", nargs="+", metavar="IMAGE")
        p.add_argument("-o", "--output", help="write to this file (or directory for --format oci)")
        p.add_argument("--format", default="docker-archive",
                       choices=["docker-archive", "oci", "oci-archive"], help="archive format")
        p.set_defaults(func=cmd_save)
    for target in (commands, group):
        p = target.add_parser("load", help="load images from a tar archive or OCI layout")
        p.add_argument("-i", "--input", help="read from this file or OCI layout directory")
        p.add_argument("-q", "--quiet", action="store_true", help="suppress the load output")
        p.set_defaults(func=cmd_load)
    p = group.add_parser("prune", help="remove unused images")
    p.add_argument("-a", "--all", action="store_true", help="remove all images without containers")
    p.add_argument("-f", "--force", action="store_true", help="do not prompt for confirmation")
    p.add_argument("--filter", action="append", default=[], help="label=... filters")
    p.set_defaults(func=cmd_prune)


def _store() -> Any:
    from ..image import ImageStore

    return ImageStore()


def _short(image_id: str, no_trunc: bool) -> str:
    return image_id if no_trunc else image_id[7:19]


def cmd_images(args: argparse.Namespace) -> int:
    from ..image import list_images, parse_filters, reference
    from ..image.listing import unix_time

    filters = parse_filters(args.filter)
    if args.repository:
        filters.setdefault("reference", []).append(args.repository)
    rows: list[dict[str, Any]] = []
    for image in list_images(_store(), filters):
        created = unix_time(image.created)
        names = [reference.parse(t) for t in image.tags] or [None]
        if filters.get("reference"):
            names = [n for n in names if n is not None]
        digests = image.familiar_digests
        for ref in names:
            digest = next((d.split("@", 1)[1] for d in digests
                           if ref is not None and d.split("@", 1)[0] == ref.familiar_repository), "<none>")
            rows.append({
                "Repository": ref.familiar_repository if ref else "<none>",
                "Tag": ref.tag if ref else "<none>",
                "ID": _short(image.id, args.no_trunc),
                "Digest": digest,
                "CreatedSince": output.ago(created),
                "CreatedAt": image.created,
                "Size": output.human_size(image.size),
                "Containers": "N/A",
            })
    if args.quiet:
        output.lines(output.unique_ids(rows))
        return 0
    headers, keys = IMAGE_TABLE
    if args.digests:
        headers = headers[:2] + ("DIGEST",) + headers[2:]
        keys = keys[:2] + ("Digest",) + keys[2:]
    output.emit(rows, args.format, (headers, keys))
    return 0


def cmd_tag(args: argparse.Namespace) -> int:
    _store().tag(args.source, args.target)
    return 0


def cmd_rmi(args: argparse.Namespace) -> int:
    from ..errors import BerthError
    from ..image import remove

    images = _store()
    status = 0
    for name in args.images:
        try:
            for entry in remove(images, name, force=args.force, prune=not args.no_prune):
                for key, value in entry.items():
                    output.line(f"{key}: {value}")
        except BerthError as exc:
            output.error_line(f"Error: {exc}")
            status = 1
    return status


def cmd_history(args: argparse.Namespace) -> int:
    from ..image import history

    images = _store()
    image = images.resolve(args.image)
    rows = []
    for entry in history(images, image):
        created_by = entry["CreatedBy"]
        if not args.no_trunc and len(created_by) > 45:
            created_by = created_by[:44] + "…"
        ident = entry["Id"]
        rows.append({
            "ID": ident if ident == "<missing>" else _short(ident, args.no_trunc),
            "CreatedSince": output.ago(entry["Created"]) if args.human else str(entry["Created"]),
            "CreatedAt": entry["Created"],
            "CreatedBy": created_by,
            "Size": output.human_size(entry["Size"]) if args.human else str(entry["Size"]),
            "Comment": entry["Comment"],
        })
    if args.quiet:
        output.lines(r["ID"] for r in rows)
        return 0
    output.emit(rows, args.format, HISTORY_TABLE)
    return 0


def cmd_inspect(args: argparse.Namespace) -> int:
    from ..errors import NotFound
    from ..image import inspect

    images = _store()
    docs, missing = [], []
    for name in args.names:
        try:
            docs.append(inspect(images, images.resolve(name)))
        except NotFound:
            missing.append(name)
    if docs:
        output.emit_documents(docs, args.format)
    for name in missing:
        output.error_line(f"Error: No such object: {name}")
    return 1 if missing else 0


def cmd_import(args: argparse.Namespace) -> int:
    from ..errors import InvalidArgument, NotFound
    from ..image import import_rootfs
    from ..image.config import host_platform

    if args.platform and args.platform.split("/")[:2] != ["linux", host_platform()["architecture"]]:
        raise InvalidArgument(f"platform {args.platform} does not match this host")
    config: dict[str, Any] = {}
    if args.change:
        from ..build.changes import apply_changes

        config = apply_changes(config, args.change)
    tags = [args.reference] if args.reference else []
    if tags:
        from ..image import parse_reference

        parse_reference(tags[0])  # fail before reading a large tarball
    if args.file == "-":
        image = import_rootfs(_store(), sys.stdin.buffer, tags, config, args.message, "-")
    else:
        if "://" in args.file:
            raise InvalidArgument("importing from a URL is not supported; download the file first")
        try:
            f = open(args.file, "rb")
        except FileNotFoundError:
            raise NotFound(f"open {args.file}: no such file or directory") from None
        with f:
            image = import_rootfs(_store(), f, tags, config, args.message, args.file)
    output.line(image.id)
    return 0


def cmd_save(args: argparse.Namespace) -> int:
    from ..errors import InvalidArgument
    from ..image import save

    if args.output is None:
        if args.format == "oci":
            raise InvalidArgument("the oci format writes a directory: give -o DIR")
        if sys.stdout.isatty():
            raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or "
                                  "redirect")
        save(_store(), args.images, sys.stdout.buffer, args.format)
    else:
        save(_store(), args.images, args.output, args.format)
    return 0


def cmd_load(args: argparse.Namespace) -> int:
    from ..errors import InvalidArgument
    from ..image import load

    if args.input is None and sys.stdin.isatty():
        raise InvalidArgument("requested load from stdin, but stdin is empty")
    lines = load(_store(), args.input if args.input else sys.stdin.buffer)
    if not args.quiet:
        output.lines(lines)
    return 0


def cmd_prune(args: argparse.Namespace) -> int:
    from ..image import prune

    result = prune(_store(), all_unused=args.all,
                   label_filters=[f.split("=", 1)[1] for f in args.filter if f.startswith("label=")])
    deleted = result["ImagesDeleted"] or []
    if deleted:
        output.line("Deleted Images:")
        for entry in deleted:
            for key, value in entry.items():
                output.line(f"{key.lower()}: {value}")
        output.line()
    output.line(f"Total reclaimed space: {output.human_size(result['SpaceReclaimed'])}")
    return 0
