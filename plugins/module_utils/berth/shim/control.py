"""The control socket ``shim.sock``: one JSON request per line, one JSON reply per line.

``attach`` turns a connection into a raw stream: after the ``{"ok": true}`` reply, container
output is copied to it (the pty's bytes with a tty, else frames ``<1|2> <len>\\n<bytes>``) and,
with ``"stdin": true``, what the client sends goes to the container's stdin; the client's EOF
(shutdown of its write side) closes that stdin. Wire format details: docs/design/shim.md.
"""
from __future__ import annotations

import errno
import json
import os
import socket

from .loop import READ, WRITE, Loop

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~1 MB of RSS; the shim must stay small
    from typing import Callable, Mapping

MAX_REQUEST = 64 * 1024
#: output queued for a slow attached client beyond this drops the client (the container must not
#: wait for it, and the shim must not grow without bound)
MAX_QUEUED = 4 * 1024 * 1024


class RequestError(Exception):
    """A request the shim refuses; the message goes back as ``{"ok": false, "error": ...}``."""


def encode(message: dict) -> bytes:
    return json.dumps(message, separators=(",", ":")).encode() + b"\n"


def frame(stream: int, data: bytes) -> bytes:
    """One chunk of non-tty attach output: ``1`` stdout or ``2`` stderr, its length, the bytes."""
    return b"%d %d\n" % (stream, len(data)) + data


class Connection:
    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.fd = sock.fileno()
        self.inbuf = b""
        self.outbuf = bytearray()
        self.attached = False
        self.stdin = False
        self.read_done = False
        self.closed = False
        self.close_when_flushed = False
        self.awaiting_reply = False  # a request (stop) answers later


class ControlServer:
    """Listens on ``path``; ``ops`` maps an op name to ``handler(conn, request) -> reply | None``
    (None: the handler replies later through ``reply``)."""

    def __init__(self, path: str, loop: Loop,
                 ops: Mapping[str, Callable[[Connection, dict], dict | None]],
                 on_stdin: Callable[[bytes], None], on_stdin_eof: Callable[[], None]) -> None:
        self.path = path
        self.loop = loop
        self.ops = ops
        self.on_stdin = on_stdin
        self.on_stdin_eof = on_stdin_eof
        self.conns: dict[int, Connection] = {}
        try:
            os.unlink(path)  # left by a shim that died
        except FileNotFoundError:
            pass
        self.listener: socket.socket | None = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            old_umask = os.umask(0o177)  # root only, from the first moment the socket exists
            try:
                self.listener.bind(path)
            finally:
                os.umask(old_umask)
            self.listener.listen(16)
            self.listener.setblocking(False)
        except OSError:
            self.listener.close()
            raise
        loop.watch(self.listener.fileno(), READ, self._accept)

    # connections ------------------------------------------------------------------------------
    def _accept(self, mask: int) -> None:
        if self.listener is None:
            return
        try:
            sock, _peer = self.listener.accept()
        except (BlockingIOError, InterruptedError, ConnectionAbortedError):
            return
        sock.setblocking(False)
        conn = Connection(sock)
        self.conns[conn.fd] = conn
        self._watch(conn)

    def _watch(self, conn: Connection) -> None:
        events = (0 if conn.read_done else READ) | (WRITE if conn.outbuf else 0)
        self.loop.watch(conn.fd, events, lambda mask: self._on_ready(conn, mask))

    def _on_ready(self, conn: Connection, mask: int) -> None:
        if mask & READ:
            self._read(conn)
        if mask & WRITE and not conn.closed:
            self._flush(conn)

    def _read(self, conn: Connection) -> bool:
        """Handle what the client sent; False when nothing is waiting."""
        try:
            data = conn.sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            data = b""
        if data:
            self._received(conn, data)
        else:
            self._read_ended(conn)
        return True

    def _read_ended(self, conn: Connection) -> None:
        conn.read_done = True
        if conn.attached:
            if conn.stdin:
                conn.stdin = False
                self.on_stdin_eof()
            self._watch(conn)  # a half-closed attach still receives output
        elif conn.awaiting_reply or conn.outbuf:
            conn.close_when_flushed = True  # the client half-closed: answer, then close
            self._watch(conn)
        else:
            self.close(conn)

    def _received(self, conn: Connection, data: bytes) -> None:
        if conn.attached:
            if conn.stdin:
                self.on_stdin(data)
            return
        conn.inbuf += data
        while b"\n" in conn.inbuf and not conn.attached and not conn.closed:
            line, conn.inbuf = conn.inbuf.split(b"\n", 1)
            self._handle(conn, line)
        if conn.attached and conn.inbuf:
            rest, conn.inbuf = conn.inbuf, b""
            self._received(conn, rest)  # bytes sent right after the attach request are stdin
        elif len(conn.inbuf) > MAX_REQUEST:
            self.send(conn, encode({"ok": False, "error": "request too long"}))
            conn.close_when_flushed = True
            conn.read_done = True

    def _handle(self, conn: Connection, line: bytes) -> None:
        try:
            try:
                request = json.loads(line)
            except ValueError:
                raise RequestError("request is not JSON") from None
            if not isinstance(request, dict):
                raise RequestError("request is not a JSON object")
            handler = self.ops.get(request.get("op"))  # type: ignore[arg-type]
            if handler is None:
                raise RequestError(f"unknown op {request.get('op')!r}")
            conn.awaiting_reply = True  # until reply(), now or later (stop answers later)
            reply = handler(conn, request)
        except RequestError as e:
            reply = {"ok": False, "error": str(e)}
        if reply is not None:
            self.reply(conn, reply)

    # output -----------------------------------------------------------------------------------
    def reply(self, conn: Connection, message: dict) -> None:
        conn.awaiting_reply = False
        self.send(conn, encode(message))

    def send(self, conn: Connection, data: bytes) -> None:
        if conn.closed:
            return
        conn.outbuf += data
        if len(conn.outbuf) > MAX_QUEUED:
            self.close(conn)
            return
        self._flush(conn)

    def broadcast(self, data: bytes) -> None:
        """Send ``data`` (already framed) to every attached connection."""
        for conn in list(self.conns.values()):
            if conn.attached:
                self.send(conn, data)

    def _flush(self, conn: Connection) -> None:
        try:
            while conn.outbuf:
                sent = conn.sock.send(conn.outbuf)
                del conn.outbuf[:sent]
        except (BlockingIOError, InterruptedError):
            pass
        except OSError as e:  # the client is gone
            if e.errno not in (errno.EPIPE, errno.ECONNRESET, errno.ENOTCONN):
                raise
            conn.outbuf.clear()
            while not conn.closed and not conn.read_done and self._read(conn):
                pass  # what it sent before leaving (e.g. "exit\n" to an attached shell) counts
            self.close(conn)
            return
        if not conn.outbuf and conn.close_when_flushed and not conn.awaiting_reply:
            self.close(conn)
        else:
            self._watch(conn)

    def close(self, conn: Connection) -> None:
        if conn.closed:
            return
        conn.closed = True
        if conn.attached and conn.stdin:
            conn.stdin = False
            self.on_stdin_eof()
        self.loop.forget(conn.fd)
        self.conns.pop(conn.fd, None)
        conn.sock.close()

    # shutting down ----------------------------------------------------------------------------
    def stop_listening(self) -> None:
        """New clients get ENOENT/ECONNREFUSED and read state.json instead."""
        if self.listener is not None:
            self.loop.forget(self.listener.fileno())
            self.listener.close()
            self.listener = None
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass

    def close_all_when_flushed(self) -> None:
        for conn in list(self.conns.values()):
            conn.close_when_flushed = True
            conn.read_done = True
            self._flush(conn)

    def idle(self) -> bool:
        return not self.conns

    def close_all(self) -> None:
        self.stop_listening()
        for conn in list(self.conns.values()):
            self.close(conn)
