"""``berth -H ... build``: the context directory as a tar body to berthd's ``POST /build``.

The whole directory goes (the daemon applies ``.dockerignore`` when it unpacks, as a local build
does), with every entry owned by 0:0 as Docker's client sends it. A Dockerfile outside the
context is added under a private name. The daemon's ``{"stream": ...}`` messages are the build's
output; ``{"aux": {"ID": ...}}`` names the image.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, BinaryIO, Optional

from ..errors import InvalidArgument, NotFound
from . import output
from .build import parse_build_args, parse_label_args

#: the name a Dockerfile from outside the context gets inside the tar
OUTSIDE_DOCKERFILE = ".berth-remote-dockerfile"
#: contexts up to this size are built in memory, larger ones in a temp file
SPOOL_LIMIT = 16 << 20


def _owned_by_root(info: Any) -> Any:
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def context_tar(path: str, dockerfile: Optional[str]) -> tuple[BinaryIO, Optional[str]]:
    """The context at ``path`` as a tar (rewound) and the Dockerfile's name inside it."""
    import tarfile
    import tempfile

    if not os.path.isdir(path):
        raise NotFound(f"unable to prepare context: path {path!r} not found")
    inside: Optional[str] = None
    outside: Optional[str] = None
    if dockerfile:
        full = os.path.abspath(dockerfile if os.path.isabs(dockerfile)
                               else os.path.join(path, dockerfile))
        if not os.path.isfile(full):
            raise NotFound(f"unable to prepare context: the Dockerfile {dockerfile!r} is missing")
        rel = os.path.relpath(full, os.path.abspath(path))
        if rel.startswith(os.pardir + os.sep) or rel == os.pardir:
            outside, inside = full, OUTSIDE_DOCKERFILE
        else:
            inside = rel.replace(os.sep, "/")
    spool = tempfile.SpooledTemporaryFile(SPOOL_LIMIT)
    with tarfile.open(fileobj=spool, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for entry in sorted(os.listdir(path)):
            tar.add(os.path.join(path, entry), arcname=entry, filter=_owned_by_root)
        if outside is not None:
            tar.add(outside, arcname=OUTSIDE_DOCKERFILE, filter=_owned_by_root)
    spool.seek(0)
    return spool, inside  # type: ignore[return-value]


def build(api: Any, args: argparse.Namespace) -> int:
    import json

    if args.platform:
        raise InvalidArgument("build --platform is not supported with --host")
    query = {"t": args.tag or None, "buildargs": json.dumps(parse_build_args(args.build_arg)),
             "labels": json.dumps(parse_label_args(args.label)), "nocache": int(args.no_cache),
             "pull": int(args.pull), "target": args.target, "q": int(args.quiet),
             "networkmode": args.network, "dockerfile": args.file}
    if args.context == "-":
        body: BinaryIO = sys.stdin.buffer
    else:
        body, query["dockerfile"] = context_tar(args.context, args.file)
    image_id = ""
    with body:
        resp = api.request("POST", "/build", query, upload=body)
    try:
        for line in resp:
            if not line.strip():
                continue
            msg = json.loads(line)
            if msg.get("error"):
                from .client import DaemonError

                raise DaemonError(str(msg["error"]).strip())
            if msg.get("stream"):
                sys.stdout.write(msg["stream"])
                sys.stdout.flush()
            image_id = (msg.get("aux") or {}).get("ID") or image_id
    finally:
        resp.close()
    if args.quiet and image_id:
        output.line(image_id)
    return 0
