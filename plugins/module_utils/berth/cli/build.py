"""``berth build``: build an image from a Dockerfile and a context (a directory or ``-``)."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Dict, List

from . import output


def register(commands: Any) -> None:
    p = commands.add_parser("build", help="build an image from a Dockerfile")
    p.add_argument("context", metavar="PATH", help="context directory, or - for a tarball "
                   "(or a Dockerfile) on standard input")
    p.add_argument("-f", "--file", help="name of the Dockerfile (default: PATH/Dockerfile)")
    p.add_argument("-t", "--tag", action="append", default=[],
                   help="name and optionally a tag in the name:tag format")
    p.add_argument("--build-arg", action="append", default=[], help="set build-time variables")
    p.add_argument("--label", action="append", default=[], help="set metadata for an image")
    p.add_argument("--no-cache", action="store_true", help="do not use cache")
    p.add_argument("--pull", action="store_true", help="always attempt to pull base images")
    p.add_argument("--target", help="set the target build stage to build")
    p.add_argument("-q", "--quiet", action="store_true",
                   help="suppress the build output and print the image ID on success")
    p.add_argument("--network", default="default",
                   help="networking mode for the RUN instructions (default, none, host)")
    p.add_argument("--platform", help="accepted for compatibility; must match this host")
    p.add_argument("--rm", action=argparse.BooleanOptionalAction, default=True,
                   help="remove intermediate containers (always done)")
    p.add_argument("--force-rm", action="store_true", help="always done")
    p.set_defaults(func=cmd_build)


def parse_build_args(items: List[str]) -> Dict[str, str]:
    """``KEY=VALUE``; a bare ``KEY`` takes the caller's environment value (dropped if unset)."""
    from ..errors import InvalidArgument

    out: Dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid build-arg: {item!r}")
        if sep:
            out[key] = value
        elif key in os.environ:
            out[key] = os.environ[key]
    return out


def parse_label_args(items: List[str]) -> Dict[str, str]:
    """``--label KEY=VALUE`` as ``run --label`` reads it (the container package, imported only
    when a label is given: a plain build needs nothing of it)."""
    if not items:
        return {}
    from ..container import parse_labels

    return parse_labels(items)


def cmd_build(args: argparse.Namespace) -> int:
    from ..build.builder import BuildOptions, Builder
    from ..build.context import BuildContext
    from ..errors import InvalidArgument
    from ..image import ImageStore
    from ..image.config import host_platform

    if args.platform and args.platform.split("/")[:2] != ["linux", host_platform()["architecture"]]:
        raise InvalidArgument(f"platform {args.platform} does not match this host")
    images = ImageStore()
    options = BuildOptions(tags=args.tag, build_args=parse_build_args(args.build_arg),
                           labels=parse_label_args(args.label), no_cache=args.no_cache,
                           pull=args.pull, target=args.target, quiet=args.quiet,
                           network=args.network, platform=args.platform)
    if args.context == "-":
        workdir = os.path.join(images.store.root, "builds")
        os.makedirs(workdir, 0o700, exist_ok=True)
        context = BuildContext.from_stream(sys.stdin.buffer, workdir, args.file)
    else:
        context = BuildContext.from_directory(args.context, args.file)
    try:
        result = Builder(images, options, out=sys.stdout).build(context)
    finally:
        context.close()
    if args.quiet:
        output.line(result.image_id)
    return 0
