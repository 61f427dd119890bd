"""``berth --host unix:///run/berth/berth.sock ...`` (or BERTH_HOST): the CLI's container, image
and volume verbs sent to berthd over its Docker-compatible API.

``APIClient`` speaks HTTP/1.1 over a unix socket (a small reader of berthd's replies: no
http.client, no new dependency); ``run_remote(args, host)`` maps a parsed command to the API.
Verbs without a remote form (exec, commit, cp, ...) say so instead of silently running
daemonless. This module and what it imports are the whole client: no engine service (store,
network, registry), so a command costs the interpreter's start and little more."""
from __future__ import annotations

import argparse
import contextlib
import io
import json
import os
import socket
import stat
import struct
import sys
import time
from collections.abc import Iterator
from typing import Any, BinaryIO, Callable, Optional
from urllib.parse import quote, urlencode

from ..errors import BerthError, Conflict, InvalidArgument, NotFound
from . import build, container_info, containers, images, output, registry, volumes

API_PREFIX = "/v1.41"


class DaemonError(BerthError):
    """berthd answered with an error (500) or could not be reached."""


#: the reply's status line and headers; more is a broken daemon, not a slow one
MAX_HEAD = 64 * 1024


class Response:
    """One HTTP/1.1 reply read from a unix socket: ``status``, ``reason``, ``headers`` (lower-case
    names) and the body as a buffered stream (``read``, ``read1``, ``readline``, iteration), with
    chunked or Content-Length framing undone. Enough for berthd's replies, without http.client
    (which imports email and ssl: ~20 ms of every client command)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock
        self._stream = sock.makefile("rb")
        head = self._stream.readline(MAX_HEAD)
        try:
            _version, status, *reason = head.decode("latin-1").split(None, 2)
            self.status = int(status)
        except ValueError:
            self.close()
            raise DaemonError(f"unreadable reply from berthd: {head[:100]!r}") from None
        self.reason = reason[0].strip() if reason else ""
        self.headers: dict[str, str] = {}
        size = len(head)
        while True:
            line = self._stream.readline(MAX_HEAD)
            size += len(line)
            if line in (b"\r\n", b"\n", b"") or size > MAX_HEAD:
                break
            name, _sep, value = line.decode("latin-1").partition(":")
            self.headers[name.strip().lower()] = value.strip()
        chunked = "chunked" in self.headers.get("transfer-encoding", "").lower()
        length = None if chunked else self.headers.get("content-length")
        if self.status in (204, 304):
            length = "0"
        self._body = io.BufferedReader(_Body(self._stream, chunked,
                                             int(length) if length is not None else None))

    def read(self, size: int = -1) -> bytes:
        return self._body.read(size)

    def read1(self, size: int = -1) -> bytes:
        return self._body.read1(size)

    def readline(self, size: int = -1) -> bytes:
        return self._body.readline(size)

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._body.readline, b"")

    def close(self) -> None:
        self._stream.close()
        self._sock.close()


class _Body(io.RawIOBase):
    """The body of a reply: chunked, ``length`` bytes, or (neither) up to the connection's end."""

    def __init__(self, stream: Any, chunked: bool, length: Optional[int]) -> None:
        super().__init__()
        self._stream = stream
        self._chunked = chunked
        self._left = length  # chunked: what is left of the current chunk
        self._done = length == 0 and not chunked
        if chunked:
            self._left = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self._done or not len(buf):
            return 0
        if self._chunked and self._left == 0:
            line = self._stream.readline(MAX_HEAD)
            try:
                self._left = int(line.split(b";", 1)[0], 16)
            except ValueError:
                raise DaemonError(f"broken chunked reply from berthd: {line[:40]!r}") from None
            if self._left == 0:
                while self._stream.readline(MAX_HEAD) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self._done = True
                return 0
        want = len(buf) if self._left is None else min(len(buf), self._left)
        data = self._stream.read1(want)
        if not data:
            self._done = True
            if self._left:
                raise DaemonError("berthd closed the connection in the middle of a reply")
            return 0
        n = len(data)
        buf[:n] = data
        if self._left is not None:
            self._left -= n
            if self._left == 0:
                if self._chunked:
                    self._stream.readline(MAX_HEAD)  # the CRLF after the chunk
                else:
                    self._done = True
        return n


def _connect(path: str) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(path)
    except OSError as e:
        sock.close()
        raise DaemonError(f"Cannot connect to the berth daemon at unix://{path}: "
                          f"{e.strerror or e}. Is berthd running?") from None
    return sock


def _file_size(f: BinaryIO) -> Optional[int]:
    """The bytes left in a regular file; None for a pipe (sent chunked)."""
    try:
        st = os.fstat(f.fileno())
    except (OSError, ValueError, AttributeError, io.UnsupportedOperation):
        return None
    return st.st_size - f.tell() if stat.S_ISREG(st.st_mode) else None


def _send_upload(sock: socket.socket, f: BinaryIO, size: Optional[int]) -> None:
    if size is not None:
        sock.sendfile(f)
        return
    while True:
        block = f.read(1 << 20)
        if not block:
            break
        sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
    sock.sendall(b"0\r\n\r\n")


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
                body: Any = None, upload: Optional[BinaryIO] = None) -> Response:
        """Send one request (one connection, closed by the reply's end); a 4xx/5xx answer
        raises the engine error of its status. ``body`` goes as JSON; ``upload`` (a file or a
        pipe) as the raw body, sent with sendfile when it is a regular file."""
        target = API_PREFIX + path
        if query:
            target += "?" + urlencode({k: v for k, v in query.items() if v is not None},
                                      doseq=True)
        data = b"" if body is None else json.dumps(body).encode()
        size = _file_size(upload) if upload is not None else len(data)
        head = f"{method} {target} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
        head += "Transfer-Encoding: chunked\r\n" if size is None else f"Content-Length: {size}\r\n"
        if body is not None:
            head += "Content-Type: application/json\r\n"
        elif upload is not None:
            head += "Content-Type: application/x-tar\r\n"
        sock = _connect(self.path)
        try:
            try:
                sock.sendall(head.encode() + b"\r\n" + data)
                if upload is not None:
                    _send_upload(sock, upload, size)
            except (BrokenPipeError, ConnectionResetError):
                pass  # berthd refused the body early: its reply says why
            resp = Response(sock)
        except OSError as e:
            sock.close()
            raise DaemonError(f"berthd went away: {e.strerror or e}") from None
        if resp.status >= 400:
            raw = resp.read()
            resp.close()
            try:
                message = json.loads(raw)["message"]
            except (ValueError, KeyError, TypeError):
                message = raw.decode(errors="replace").strip() or resp.reason
            raise _ERRORS.get(resp.status, DaemonError)(message)
        return resp

    def json(self, method: str, path: str, query: Optional[dict[str, Any]] = None,
             body: Any = None, upload: Optional[BinaryIO] = None) -> Any:
        resp = self.request(method, path, query, body, upload)
        try:
            raw = resp.read()
        finally:
            resp.close()
        return json.loads(raw) if raw.strip() else None

    def call(self, method: str, path: str, query: Optional[dict[str, Any]] = None) -> None:
        """A request whose reply body does not matter."""
        resp = self.request(method, path, query)
        try:
            resp.read()
        finally:
            resp.close()

    def stream_json(self, method: str, path: str,
                    query: Optional[dict[str, Any]] = None) -> Iterator[dict[str, Any]]:
        resp = self.request(method, path, query)
        try:
            for line in resp:
                if line.strip():
                    yield json.loads(line)
        finally:
            resp.close()


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
        api.call("POST", f"/containers/{cid}/start")
        output.line(cid)
        return 0
    # The wait goes first: once its reply's headers are here, berthd waits for this container,
    # so even an exit (and removal) before the log request is reported. Read after the log.
    waiting = api.request("POST", f"/containers/{cid}/wait",
                          {"condition": "removed" if spec.auto_remove else "next-exit"})
    try:
        logs = api.request("GET", f"/containers/{cid}/logs",
                           {"follow": 1, "stdout": 1, "stderr": 1, "since": time.time()})
        try:
            try:
                api.call("POST", f"/containers/{cid}/start")
            except BerthError:
                if spec.auto_remove:
                    with contextlib.suppress(BerthError):
                        api.call("DELETE", f"/containers/{cid}", {"force": 1})
                raise
            for stream, data in demux(logs, spec.tty):
                _write(stream, data)
        finally:
            logs.close()
        result = json.loads(waiting.read() or b"{}")
    finally:
        waiting.close()
    if result.get("Error"):
        raise DaemonError(str(result["Error"].get("Message") if isinstance(result["Error"], dict)
                              else result["Error"]))
    return int(result.get("StatusCode") or 0)


def start(api: APIClient, args: argparse.Namespace) -> int:
    if args.attach or args.interactive:
        raise InvalidArgument("start -a/-i is not supported with --host")
    return output.each_target(
        args.containers, lambda n: api.call("POST", f"/containers/{_q(n)}/start"))


def _simple(verb: str) -> Callable[[APIClient, argparse.Namespace], int]:
    def action(api: APIClient, args: argparse.Namespace) -> int:
        query: dict[str, Any] = {}
        if verb in ("stop", "restart"):
            query = {"t": args.time, "signal": args.signal}
        elif verb == "kill":
            query = {"signal": args.signal}
        return output.each_target(args.containers, lambda n: api.call(
            "POST", f"/containers/{_q(n)}/{verb}", query))
    return action


def rm(api: APIClient, args: argparse.Namespace) -> int:
    return output.each_target(args.containers, lambda n: api.call(
        "DELETE", f"/containers/{_q(n)}", {"force": int(args.force), "v": int(args.volumes)}))


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
    api.call("POST", f"/images/{_q(args.source)}/tag", {"repo": repo, "tag": name or None})
    return 0


def rmi(api: APIClient, args: argparse.Namespace) -> int:
    def remove(name: str) -> None:
        query = {"force": int(args.force), "noprune": int(args.no_prune)}
        for entry in api.json("DELETE", f"/images/{_q(name)}", query):
            for key, value in entry.items():
                output.line(f"{key}: {value}")
    return output.each_target(args.images, remove, echo=False)


def import_image(api: APIClient, args: argparse.Namespace) -> int:
    if args.platform:
        raise InvalidArgument("import --platform is not supported with --host")
    if "://" in args.file:
        raise InvalidArgument("importing from a URL is not supported; download the file first")
    query = {"fromSrc": "-", "repo": args.reference, "message": args.message or None,
             "changes": args.change or None}
    if args.file == "-":
        done = api.json("POST", "/images/create", query, upload=sys.stdin.buffer)
    else:
        try:
            f = open(args.file, "rb")
        except FileNotFoundError:
            raise NotFound(f"open {args.file}: no such file or directory") from None
        with f:
            done = api.json("POST", "/images/create", query, upload=f)
    output.line(done["status"])
    return 0


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
    return output.each_target(args.names, lambda n: api.call(
        "DELETE", f"/volumes/{_q(n)}", {"force": int(args.force)}))


def remote_build(api: APIClient, args: argparse.Namespace) -> int:
    from .remote_build import build as send_build

    return send_build(api, args)


REMOTE: dict[Callable[..., int], Callable[[APIClient, argparse.Namespace], int]] = {
    container_info.cmd_ps: ps, container_info.cmd_logs: logs, container_info.cmd_inspect: inspect,
    containers.cmd_create: create, containers.cmd_run: run, containers.cmd_start: start,
    containers.cmd_stop: _simple("stop"), containers.cmd_restart: _simple("restart"),
    containers.cmd_kill: _simple("kill"), containers.cmd_pause: _simple("pause"),
    containers.cmd_unpause: _simple("unpause"), containers.cmd_rm: rm,
    containers.cmd_wait: wait,
    images.cmd_images: images_list, images.cmd_tag: tag, images.cmd_rmi: rmi,
    images.cmd_inspect: inspect, images.cmd_import: import_image,
    registry.cmd_pull: pull, registry.cmd_push: push, build.cmd_build: remote_build,
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
