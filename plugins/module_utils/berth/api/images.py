"""``/images/...`` and ``/build``: thin handlers over the image store, registry and builder.

Long operations (pull, push, load, build) run in a worker thread and report through a queue, which
the response drains as Docker's streaming JSON (an ``error``/``errorDetail`` object ends a failed
stream: the status line has gone out already).
"""
from __future__ import annotations

import io
import os
import queue
import tempfile
import threading
from collections.abc import Iterator
from typing import Any, Callable, Optional

from ..errors import BerthError, InvalidArgument
from ..registry.progress import Progress
from .containers import docker_filters
from .routing import Request, Response, Router, json_response


def register(r: Router) -> None:
    r.add("GET", "/images/json", list_images)
    r.add("POST", "/images/create", create)
    r.add("POST", "/images/load", load)
    r.add("GET", "/images/get", get_many)
    r.add("POST", "/build", build)
    r.add("GET", "/images/{name:path}/json", inspect)
    r.add("GET", "/images/{name:path}/history", history)
    r.add("GET", "/images/{name:path}/get", get_one)
    r.add("POST", "/images/{name:path}/tag", tag)
    r.add("POST", "/images/{name:path}/push", push)
    r.add("DELETE", "/images/{name:path}", remove)


class JSONProgress(Progress):
    """Pull/push progress as Docker's JSON messages, queued for a streaming response.

    The engine reports from worker threads; the response generator drains ``messages``."""

    DONE = object()

    def __init__(self) -> None:
        self.messages: "queue.Queue[Any]" = queue.Queue()

    def message(self, text: str) -> None:
        self.messages.put({"status": text})

    def layer(self, ident: str, status: str, current: Optional[int] = None,
              total: Optional[int] = None) -> None:
        from ..registry.progress import render_bar, short_id

        msg: dict[str, Any] = {"status": status, "id": short_id(ident)}
        if current is not None:
            msg["progressDetail"] = {"current": current, **({"total": total} if total else {})}
            msg["progress"] = render_bar(current, total)
        else:
            msg["progressDetail"] = {}
        self.messages.put(msg)

    def finish(self, last: Optional[dict[str, Any]] = None) -> None:
        if last is not None:
            self.messages.put(last)
        self.messages.put(self.DONE)


def _error_message(exc: BaseException) -> dict[str, Any]:
    text = str(exc) if isinstance(exc, BerthError) else f"{type(exc).__name__}: {exc}"
    return {"errorDetail": {"message": text}, "error": text}


def background(job: Callable[[JSONProgress], Optional[dict[str, Any]]]) -> Response:
    """Run ``job(progress)`` in a thread; stream its messages, then its result (or error)."""
    progress = JSONProgress()

    def run() -> None:
        try:
            progress.finish(job(progress))
        except Exception as exc:  # noqa: BLE001 - reported in the stream
            progress.finish(_error_message(exc))

    worker = threading.Thread(target=run, name="berthd-job", daemon=True)
    worker.start()

    def messages() -> Iterator[bytes]:
        import json

        while True:
            msg = progress.messages.get()
            if msg is JSONProgress.DONE:
                return
            yield json.dumps(msg).encode() + b"\r\n"
    return Response(200, chunks=messages())


# -- list, inspect, history -----------------------------------------------------------------------

def list_images(ctx: Any, req: Request) -> Response:
    from ..image import list_images as engine_list
    from ..image import parse_filters, summary

    wanted = docker_filters(req.json_arg("filters"))
    filters = parse_filters([f"{k}={v}" for k, values in wanted.items() for v in values])
    if req.arg("filter"):  # API < 1.25: a bare reference
        filters.setdefault("reference", []).append(req.arg("filter"))
    return json_response([summary(i) for i in engine_list(ctx.images(), filters)])


def inspect(ctx: Any, req: Request, name: str) -> Response:
    from ..image import inspect as image_inspect

    images = ctx.images()
    return json_response(image_inspect(images, images.resolve(name)))


def history(ctx: Any, req: Request, name: str) -> Response:
    from ..image import history as image_history

    images = ctx.images()
    return json_response(image_history(images, images.resolve(name)))


# -- tag, remove ----------------------------------------------------------------------------------

def tag(ctx: Any, req: Request, name: str) -> Response:
    repo = req.arg("repo")
    if not repo:
        raise InvalidArgument("tag needs a repository (?repo=)")
    target = f"{repo}:{req.arg('tag')}" if req.arg("tag") else repo
    image = ctx.images().tag(name, target)
    ctx.bus.publish("image", "tag", image.id, {"name": target})
    return Response(201, b"", content_type="")


def remove(ctx: Any, req: Request, name: str) -> Response:
    from ..image import remove as image_remove

    report = image_remove(ctx.images(), name, force=req.flag("force"),
                          prune=not req.flag("noprune"))
    for entry in report:
        for key, value in entry.items():
            action = "untag" if key == "Untagged" else "delete"
            ctx.bus.publish("image", action, value, {"name": value})
    return json_response(report)


# -- pull, import, push ---------------------------------------------------------------------------

def create(ctx: Any, req: Request) -> Response:
    """``fromImage``: pull; ``fromSrc=-``: import the request body as a root filesystem."""
    if req.arg("fromSrc"):
        return _import(ctx, req)
    name = req.arg("fromImage")
    if not name:
        raise InvalidArgument("fromImage or fromSrc is required")
    tag_or_digest = req.arg("tag")
    if tag_or_digest:
        name += ("@" if tag_or_digest.startswith("sha256:") else ":") + tag_or_digest
    from ..image import parse_reference

    ref = parse_reference(name)  # a bad name is a 400 before the stream starts
    platform = req.arg("platform") or None

    def job(progress: JSONProgress) -> dict[str, Any]:
        from ..registry import pull

        image = pull(ctx.images(), name, platform=platform, progress=progress)
        ctx.bus.publish("image", "pull", str(ref), {"name": str(ref)})
        return {"status": f"Status: Downloaded newer image for {ref.familiar}",
                "id": image.id}
    return background(job)


def _import(ctx: Any, req: Request) -> Response:
    from ..image import import_rootfs

    if req.arg("fromSrc") != "-":
        raise InvalidArgument("importing from a URL is not supported; send the tarball as the body")
    repo = req.arg("repo")
    tags = [f"{repo}:{req.arg('tag')}" if req.arg("tag") else repo] if repo else []
    config: dict[str, Any] = {}
    changes = req.query.get("changes") or []
    if changes:
        from ..build.changes import apply_changes

        config = apply_changes(config, changes)
    image = import_rootfs(ctx.images(), req.body, tags, config, req.arg("message"), "-")
    ctx.bus.publish("image", "import", image.id, {"name": tags[0] if tags else image.id})
    return json_response({"status": image.id})


def push(ctx: Any, req: Request, name: str) -> Response:
    from ..image import parse_reference

    target = f"{name}:{req.arg('tag')}" if req.arg("tag") else name
    ref = parse_reference(target)
    ctx.images().resolve(str(ref))  # 404 before the stream starts

    def job(progress: JSONProgress) -> dict[str, Any]:
        from ..registry import push as registry_push

        digest = registry_push(ctx.images(), target, progress=progress)
        ctx.bus.publish("image", "push", str(ref), {"name": str(ref)})
        return {"progressDetail": {}, "aux": {"Tag": ref.tag or "latest", "Digest": digest}}
    return background(job)


# -- save, load -----------------------------------------------------------------------------------

def _tmp_dir(ctx: Any) -> str:
    path = os.path.join(ctx.store.root, "tmp")
    os.makedirs(path, 0o700, exist_ok=True)
    return path


def _save(ctx: Any, names: list[str]) -> Response:
    from ..image import save

    if not names:
        raise InvalidArgument("no image names given")
    spool = tempfile.TemporaryFile(dir=_tmp_dir(ctx))
    try:
        save(ctx.images(), names, spool, "docker-archive")
        spool.seek(0)
    except BaseException:
        spool.close()
        raise

    def chunks() -> Iterator[bytes]:
        with spool:
            yield from iter(lambda: spool.read(1 << 20), b"")
    return Response(200, content_type="application/x-tar", chunks=chunks())


def get_one(ctx: Any, req: Request, name: str) -> Response:
    return _save(ctx, [name])


def get_many(ctx: Any, req: Request) -> Response:
    return _save(ctx, list(req.query.get("names") or []))


def load(ctx: Any, req: Request) -> Response:
    from ..image import load as image_load

    lines = image_load(ctx.images(), req.body)
    for line in lines:
        ctx.bus.publish("image", "load", line.split(": ", 1)[-1], {"name": line.split(": ", 1)[-1]})
    if req.flag("quiet"):
        return json_response({"stream": "".join(line + "\n" for line in lines)})
    import json

    body = b"".join(json.dumps({"stream": line + "\n"}).encode() + b"\r\n" for line in lines)
    return Response(200, body)


# -- build ----------------------------------------------------------------------------------------

class _StreamWriter(io.TextIOBase):
    """The builder's text output as Docker's ``{"stream": ...}`` messages."""

    def __init__(self, progress: JSONProgress) -> None:
        self.progress = progress

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        if text:
            self.progress.messages.put({"stream": text})
        return len(text)


def build(ctx: Any, req: Request) -> Response:
    from ..build import BuildContext, BuildOptions, Builder

    options = BuildOptions(
        tags=list(req.query.get("t") or []),
        build_args={str(k): str(v) for k, v in (req.json_arg("buildargs") or {}).items()
                    if v is not None},
        labels={str(k): str(v) for k, v in (req.json_arg("labels") or {}).items()},
        no_cache=req.flag("nocache"), pull=req.flag("pull"),
        target=req.arg("target") or None, quiet=req.flag("q"),
        network=req.arg("networkmode") or "default", platform=req.arg("platform") or None)
    if req.arg("remote"):
        raise InvalidArgument("remote build contexts are not supported; send a tar body")
    workdir = os.path.join(ctx.store.root, "builds")
    os.makedirs(workdir, 0o700, exist_ok=True)
    context = BuildContext.from_stream(req.body, workdir, req.arg("dockerfile") or None)

    def job(progress: JSONProgress) -> dict[str, Any]:
        try:
            result = Builder(ctx.images(), options, out=_StreamWriter(progress)).build(context)
        finally:
            context.close()
        for name in result.tags:
            ctx.bus.publish("image", "tag", result.image_id, {"name": name})
        return {"aux": {"ID": result.image_id}}
    return background(job)
