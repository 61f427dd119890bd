"""``/_ping``, ``/version``, ``/info`` and ``/events``."""
from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any, Optional

from ..errors import InvalidArgument
from .containers import docker_filters
from .routing import Request, Response, Router, json_response
from .shapes import info_doc, version_doc


def register(r: Router) -> None:
    r.add("GET", "/_ping", ping)
    r.add("GET", "/version", version)
    r.add("GET", "/info", info)
    r.add("GET", "/events", events)


def ping(ctx: Any, req: Request) -> Response:
    return Response(200, b"OK", content_type="text/plain; charset=utf-8",
                    headers={"Cache-Control": "no-cache, no-store, must-revalidate",
                             "Pragma": "no-cache", "Builder-Version": "1"})


def version(ctx: Any, req: Request) -> Response:
    return json_response(version_doc())


def info(ctx: Any, req: Request) -> Response:
    from .. import runtime

    svc = ctx.containers()
    try:
        layout = runtime.detect()
        cgroup_version = "2" if layout.mode == "v2" else "1"
    except Exception:  # noqa: BLE001 - info must answer even without cgroups
        cgroup_version = ""
    return json_response(info_doc(ctx.store, svc.records.all(), len(svc.images.all()),
                                  cgroup_version))


def _timestamp(text: str) -> Optional[float]:
    """Docker's since/until: Unix seconds (fractions allowed), RFC 3339, or a duration ago."""
    if not text:
        return None
    from ..container.logs import parse_since

    try:
        return parse_since(text)
    except InvalidArgument:
        raise InvalidArgument(f"invalid timestamp: {text!r}") from None


def events(ctx: Any, req: Request) -> Response:
    since = _timestamp(req.arg("since"))
    until = _timestamp(req.arg("until"))
    filters = docker_filters(req.json_arg("filters"))

    def chunks() -> Iterator[bytes]:
        for event in ctx.bus.subscribe(since, until, filters):
            if event is None:
                if until is not None and time.time() > until:
                    return
                yield b""  # nothing to send; lets the server notice a gone client on next write
                continue
            yield json.dumps(event).encode() + b"\n"
    return Response(200, chunks=chunks())
