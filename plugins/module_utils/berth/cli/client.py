"""``berth --host unix:///run/berth/berth.sock ...`` (or BERTH_HOST): the CLI's container, image
and volume verbs sent to berthd over its Docker-compatible API.

``APIClient`` speaks HTTP/1.1 over a unix socket with the stdlib's http.client (no new
dependency); ``run(args, host)`` maps a parsed command to the API. Verbs without a remote form
(exec, build, commit, ...) say so instead of silently running daemonless.
"""
from __future__ import annotations

import argparse
import http.client
import json
import socket
import struct
import sys
import threading
import time
from collections.abc import Iterator
from typing import Any, Callable, Optional
from urllib.parse import quote, urlencode

from ..errors import BerthError, Conflict, InvalidArgument, NotFound
from . import container_info, containers, images, output, registry, volumes

API_PREFIX = "/v1.41"


class DaemonError(BerthError):
    """berthd answered with an error (500) or could not be reached."""


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: Optional[float] = None) -> None:
        super().__init__("localhost", timeout=timeout)
        self.socket_path = path

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self.timeout is not None:
            sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError as e:
            sock.close()
            raise DaemonError(f"Cannot connect to the berth daemon at unix://{self.socket_path}: "
                              f"{e.strerror or e}. Is berthd running?") from None
        self.sock = sock


def socket_path(host: str) -> str:
    if host.startswith("unix://"):
        return host[len("unix://"):]
    if host.startswith("/"):
        return host
    raise InvalidArgument(f"unsupported host {host!r}: use unix:///path/to/berth.sock")


_ERRORS = {400: InvalidArgument, 404: NotFound, 409: Conflict}


class APIClient:
    def __init__(self, host: str) -> None:
        self.path = socket_path(host)

    def request(self, method: str, path: str, query: Optional[dict[str, Any]] = None,
                body: Any = None) -> http.client.HTTPResponse:
        """Send one request; a 4xx/5xx answer raises the engine error of its status."""
        target = API_PREFIX + path
        if query:
            target += "?" + urlencode({k: v for k, v in query.items() if v is not None},
                                      doseq=True)
        headers = {}
        data = None
        if body is not None:
            data = json.dumps(body).encode()
            headers["Content-Type"] = "application/json"
        conn = UnixHTTPConnection(self.path)
        conn.request(method, target, body=data, headers=headers)
        resp = conn.getresponse()
        if resp.status >= 400:
            raw = resp.read()
            conn.close()
            try:
                message = json.loads(raw)["message"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode(errors="replace").strip() or resp.reason
            raise _ERRORS.get(resp.status, DaemonError)(message)
        return resp

    def json(self, method: str, path: str, query: Optional[dict[str, Any]] = None,
             body: Any = None) -> Any:
        resp = self.request(method, path, query, body)
        raw = resp.read()
        return json.loads(raw) if raw.strip() else None

    def stream_json(self, method: str, path: str,
                    query: Optional[dict[str, Any]] = None) -> Iterator[dict[str, Any]]:
        resp = self.request(method, path, query)
        for line in resp:
            if line.strip():
                yield json.loads(line)


def demux(resp: Any, tty: bool) -> Iterator[tuple[str, bytes]]:
    """Docker's multiplexed stream -> (stream, data); a tty stream is all stdout."""
    if tty:
        for data in iter(lambda: resp.read1(65536), b""):
            yield "stdout", data
        return
    while True:
        header = resp.read(8)
        if len(header) < 8:
            return
        kind, size = struct.unpack(">BxxxL", header)
        yield ("stderr" if kind == 2 else "stdout"), resp.read(size)


def _write(stream: str, data: bytes) -> None:
    target = sys.stderr if stream == "stderr" else sys.stdout
    target.buffer.write(data)
    target.buffer.flush()


def _q(name: str) -> str:
    return quote(name, safe="")


# -- containers -----------------------------------------------------------------------------------

def _ps_row(s: dict[str, Any], no_trunc: bool) -> dict[str, Any]:
    command = s.get("Command") or ""
    if not no_trunc and len(command) > 20:
        command = command[:19] + "…"
    image = s["Image"] if no_trunc or not s["Image"].startswith("sha256:") else s["Image"][7:19]
    ports = ", ".join(f"{p.get('IP', '0.0.0.0')}:{p['PublicPort']}->{p['PrivatePort']}/{p['Type']}"
                      if p.get("PublicPort") else f"{p['PrivatePort']}/{p['Type']}"
                      for p in s.get("Ports") or [])
    labels = s.get("Labels") or {}
    return {"ID": s["Id"] if no_trunc else s["Id"][:12], "Image": image,
            "Command": f'"{command}"',
            "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(s["Created"])),
            "RunningFor": output.ago(s["Created"]), "Status": s["Status"], "State": s["State"],
            "Ports": ports, "Names": ",".join(n.lstrip("/") for n in s["Names"]),
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())), "Size": "",
            "Mounts": ",".join(m.get("Source", "") for m in s.get("Mounts") or []),
            "Networks": ",".join((s.get("NetworkSettings") or {}).get("Networks") or {})}


def _filters(items: list[str]) -> Optional[str]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidArgument(f"invalid filter '{item}'")
        out.setdefault(key.strip().lower(), []).append(value)
    return json.dumps(out) if out else None


def ps(api: APIClient, args: argparse.Namespace) -> int:
    show_all = args.all or args.latest or args.last >= 0
    limit = 1 if args.latest else (args.last if args.last >= 0 else None)
    query = {"all": int(show_all), "limit": limit, "filters": _filters(args.filter)}
    found = api.json("GET", "/containers/json", query)
    rows = [_ps_row(s, args.no_trunc) for s in found]
    if args.quiet:
        output.lines(r["ID"] for r in rows)
        return 0
    output.emit(rows, args.format, container_info.PS_TABLE)
    return 0


def create(api: APIClient, args: argparse.Namespace) -> int:
    from .run_flags import build_spec
    from ..api.shapes import create_body

    made = api.json("POST", "/containers/create", {"name": args.name},
                    body=create_body(build_spec(args)))
    output.line(made["Id"])
    return 0


def run(api: APIClient, args: argparse.Namespace) -> int:
    from .run_flags import build_spec
    from ..api.shapes import create_body

    spec = build_spec(args)
    if spec.interactive and not args.detach:
        raise InvalidArgument("interactive containers (-i) are not supported with --host; "
                              "use -d, or run berth without --host")
    cid = api.json("POST", "/containers/create", {"name": args.name}, body=create_body(spec))["Id"]
    if args.detach:
        api.request("POST", f"/containers/{cid}/start").read()
        output.line(cid)
        return 0
    result: dict[str, Any] = {}

    def waiter() -> None:
        try:
            resp = api.request("POST", f"/containers/{cid}/wait",
                               {"condition": "removed" if spec.auto_remove else "next-exit"})
            result.update(json.loads(resp.read()))
        except BerthError as exc:
            result["error"] = exc
    thread = threading.Thread(target=waiter, daemon=True)
    thread.start()
    logs = api.request("GET", f"/containers/{cid}/logs",
                       {"follow": 1, "stdout": 1, "stderr": 1, "since": time.time()})
    api.request("POST", f"/containers/{cid}/start").read()
    for stream, data in demux(logs, spec.tty):
        _write(stream, data)
    thread.join()
    if "error" in result:
        raise result["error"]
    return int(result.get("StatusCode") or 0)


def start(api: APIClient, args: argparse.Namespace) -> int:
    if args.attach or args.interactive:
        raise InvalidArgument("start -a/-i is not supported with --host")
    return output.each_target(
        args.containers, lambda n: api.request("POST", f"/containers/{_q(n)}/start").read())


def _simple(verb: str) -> Callable[[APIClient, argparse.Namespace], int]:
    def action(api: APIClient, args: argparse.Namespace) -> int:
        query: dict[str, Any] = {}
        if verb in ("stop", "restart"):
            query = {"t": args.time, "signal": args.signal}
        elif verb == "kill":
            query = {"signal": args.signal}
        return output.each_target(args.containers, lambda n: api.request(
            "POST", f"/containers/{_q(n)}/{verb}", query).read())
    return action


def rm(api: APIClient, args: argparse.Namespace) -> int:
    return output.each_target(args.containers, lambda n: api.request(
        "DELETE", f"/containers/{_q(n)}", {"force": int(args.force), "v": int(args.volumes)}).read())


def wait(api: APIClient, args: argparse.Namespace) -> int:
    return output.each_target(args.containers, lambda n: output.line(api.json(
        "POST", f"/containers/{_q(n)}/wait")["StatusCode"]), echo=False)


def logs(api: APIClient, args: argparse.Namespace) -> int:
    c = api.json("GET", f"/containers/{_q(args.container)}/json")
    query = {"stdout": 1, "stderr": 1, "follow": int(args.follow),
             "timestamps": int(args.timestamps), "tail": args.tail, "since": args.since}
    resp = api.request("GET", f"/containers/{_q(args.container)}/logs", query)
    for stream, data in demux(resp, bool(c["Config"].get("Tty"))):
        _write(stream, data)
    return 0


def inspect(api: APIClient, args: argparse.Namespace) -> int:
    kind = getattr(args, "type", None)
    docs, missing = [], []
    for name in args.names:
        doc = None
        for what, path in (("container", f"/containers/{_q(name)}/json"),
                           ("image", f"/images/{_q(name)}/json")):
            if kind in (None, what) and doc is None:
                try:
                    doc = api.json("GET", path)
                except NotFound:
                    doc = None
        if doc is None:
            missing.append(name)
        else:
            docs.append(doc)
    return output.emit_found(docs, missing, args.format)


# -- images ---------------------------------------------------------------------------------------

def _split_tag(familiar: str) -> tuple[str, str]:
    repo, sep, tag = familiar.rpartition(":")
    if not sep or "/" in tag:
        return familiar, "latest"
    return repo, tag


def images_list(api: APIClient, args: argparse.Namespace) -> int:
    filters = list(args.filter) + ([f"reference={args.repository}"] if args.repository else [])
    rows = []
    for img in api.json("GET", "/images/json", {"filters": _filters(filters)}):
        ident = img["Id"] if args.no_trunc else img["Id"][7:19]
        tags = [t for t in img.get("RepoTags") or [] if t != "<none>:<none>"] or [None]
        for tag in tags:
            repo, name = _split_tag(tag) if tag else ("<none>", "<none>")
            digest = next((d.split("@", 1)[1] for d in img.get("RepoDigests") or []
                           if d.split("@", 1)[0] == repo), "<none>")
            rows.append({"Repository": repo, "Tag": name, "ID": ident, "Digest": digest,
                         "CreatedSince": output.ago(img["Created"]), "CreatedAt": img["Created"],
                         "Size": output.human_size(img["Size"]), "Containers": "N/A"})
    if args.quiet:
        output.lines(output.unique_ids(rows))
        return 0
    headers, keys = images.IMAGE_TABLE
    if args.digests:
        headers, keys = headers[:2] + ("DIGEST",) + headers[2:], keys[:2] + ("Digest",) + keys[2:]
    output.emit(rows, args.format, (headers, keys))
    return 0


def tag(api: APIClient, args: argparse.Namespace) -> int:
    repo, _sep, name = args.target.rpartition(":")
    if not repo or "/" in name:
        repo, name = args.target, ""
    api.request("POST", f"/images/{_q(args.source)}/tag", {"repo": repo, "tag": name or None}).read()
    return 0


def rmi(api: APIClient, args: argparse.Namespace) -> int:
    def remove(name: str) -> None:
        query = {"force": int(args.force), "noprune": int(args.no_prune)}
        for entry in api.json("DELETE", f"/images/{_q(name)}", query):
            for key, value in entry.items():
                output.line(f"{key}: {value}")
    return output.each_target(args.images, remove, echo=False)


def _progress(messages: Iterator[dict[str, Any]], quiet: bool) -> Optional[dict[str, Any]]:
    last = None
    for msg in messages:
        if "error" in msg:
            raise DaemonError(msg["error"])
        last = msg
        if quiet or "progressDetail" in msg and msg.get("progress"):
            continue
        text = msg.get("status") or msg.get("stream") or ""
        if text:
            output.line(f"{msg['id']}: {text}" if msg.get("id") else text, flush=True)
    return last


def pull(api: APIClient, args: argparse.Namespace) -> int:
    query = {"fromImage": args.name, "platform": args.platform}
    _progress(api.stream_json("POST", "/images/create", query), args.quiet)
    if args.quiet:
        output.line(args.name)
    return 0


def push(api: APIClient, args: argparse.Namespace) -> int:
    last = _progress(api.stream_json("POST", f"/images/{_q(args.name)}/push"), args.quiet)
    if args.quiet and last and last.get("aux"):
        output.line(last["aux"].get("Digest", ""))
    return 0


# -- volumes --------------------------------------------------------------------------------------

def volume_create(api: APIClient, args: argparse.Namespace) -> int:
    from ..container import parse_labels

    vol = api.json("POST", "/volumes/create", body={
        "Name": args.name or "", "Driver": args.driver, "Labels": parse_labels(args.label),
        "DriverOpts": volumes._options(args.opt)})  # noqa: SLF001 - the same parser as local
    output.line(vol["Name"])
    return 0


def volume_ls(api: APIClient, args: argparse.Namespace) -> int:
    vols = api.json("GET", "/volumes", {"filters": _filters(args.filter)})["Volumes"] or []
    if args.quiet:
        output.lines(v["Name"] for v in vols)
        return 0
    rows = [{"Driver": v["Driver"], "Name": v["Name"], "Mountpoint": v["Mountpoint"],
             "Labels": ",".join(f"{k}={x}" for k, x in sorted((v.get("Labels") or {}).items())),
             "Scope": "local", "Size": "N/A", "Links": "N/A"} for v in vols]
    output.emit(rows, args.format, volumes.VOLUME_TABLE)
    return 0


def volume_inspect(api: APIClient, args: argparse.Namespace) -> int:
    docs, status = [], 0
    for name in args.names:
        try:
            docs.append(api.json("GET", f"/volumes/{_q(name)}"))
        except NotFound as exc:
            output.error_line(f"Error: {exc}")
            status = 1
    if docs or not status:
        output.emit_documents(docs, args.format)
    return status


def volume_rm(api: APIClient, args: argparse.Namespace) -> int:
    return output.each_target(args.names, lambda n: api.request(
        "DELETE", f"/volumes/{_q(n)}", {"force": int(args.force)}).read())


REMOTE: dict[Callable[..., int], Callable[[APIClient, argparse.Namespace], int]] = {
    container_info.cmd_ps: ps, container_info.cmd_logs: logs, container_info.cmd_inspect: inspect,
    containers.cmd_create: create, containers.cmd_run: run, containers.cmd_start: start,
    containers.cmd_stop: _simple("stop"), containers.cmd_restart: _simple("restart"),
    containers.cmd_kill: _simple("kill"), containers.cmd_pause: _simple("pause"),
    containers.cmd_unpause: _simple("unpause"), containers.cmd_rm: rm,
    containers.cmd_wait: wait,
    images.cmd_images: images_list, images.cmd_tag: tag, images.cmd_rmi: rmi,
    images.cmd_inspect: inspect,
    registry.cmd_pull: pull, registry.cmd_push: push,
    volumes.cmd_create: volume_create, volumes.cmd_ls: volume_ls,
    volumes.cmd_inspect: volume_inspect, volumes.cmd_rm: volume_rm,
}


def run_remote(args: argparse.Namespace, host: str) -> int:
    """Run the parsed command against berthd at ``host``."""
    remote = REMOTE.get(args.func)
    if remote is None:
        verb = getattr(args.func, "__name__", "this command").replace("cmd_", "")
        raise InvalidArgument(f"'{verb}' is not available with --host/BERTH_HOST yet; run it on "
                              "the daemon's host without --host")
    return remote(APIClient(host), args)
