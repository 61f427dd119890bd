"""The HTTP/1.1 server of berthd: a threading ``http.server`` bound to a unix socket.

Each connection gets a thread; bodies may come with Content-Length or chunked encoding; streaming
responses (logs, events, pull progress) go out chunked and flushed per chunk; ``hijack`` responses
send Docker's ``101 UPGRADED`` and hand the raw connection to the handler (attach). Engine errors
become Docker's ``{"message": "..."}`` with 404/409/400/500.
"""
from __future__ import annotations

import contextlib
import http.server
import io
import json
import os
import socket
import socketserver
import sys
import traceback
from typing import Any, BinaryIO

from .. import __version__
from ..errors import BerthError, Conflict, InvalidArgument, NotFound
from .routing import Request, Response, Router, split_target
from .shapes import API_VERSION


def error_status(exc: BaseException) -> int:
    if isinstance(exc, NotFound):
        return 404
    if isinstance(exc, Conflict):
        return 409
    if isinstance(exc, InvalidArgument):
        return 400
    return 500


class ChunkedReader(io.RawIOBase):
    """The body of a ``Transfer-Encoding: chunked`` request as a plain stream."""

    def __init__(self, stream: BinaryIO) -> None:
        self.stream = stream
        self.left = 0
        self.done = False

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self.done:
            return 0
        if self.left == 0:
            line = self.stream.readline(1024)
            if not line:
                raise InvalidArgument("truncated chunked request body")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while self.stream.readline(1024) not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                self.done = True
                return 0
            self.left = size
        data = self.stream.read(min(len(buf), self.left))
        if not data:
            raise InvalidArgument("truncated chunked request body")
        buf[:len(data)] = data
        self.left -= len(data)
        if self.left == 0:
            self.stream.readline(16)  # the CRLF after the chunk
        return len(data)


class LimitedReader(io.RawIOBase):
    def __init__(self, stream: BinaryIO, length: int) -> None:
        self.stream = stream
        self.left = length

    def readable(self) -> bool:
        return True

    def readinto(self, buf: Any) -> int:
        if self.left <= 0:
            return 0
        data = self.stream.read(min(len(buf), self.left))
        buf[:len(data)] = data
        self.left -= len(data)
        return len(data)


class APIRequestHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = f"Berth/{__version__}"
    sys_version = ""
    server: "UnixHTTPServer"

    def version_string(self) -> str:
        return self.server_version

    def address_string(self) -> str:
        return "unix"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - http.server's name
        if self.server.verbose:
            sys.stderr.write(f"berthd: {format % args}\n")

    def handle_one_request(self) -> None:
        try:
            super().handle_one_request()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    def _dispatch(self) -> None:
        path, version, query = split_target(self.path)
        body = self._body_stream()
        req = Request(self.command, path, query, self.headers, body, version, self)
        handler, params, known = self.server.router.match(self.command, path)
        try:
            if handler is None:
                if known:
                    raise _HTTPError(405, f"method {self.command} not allowed for {path}")
                raise _HTTPError(404, f"page not found: {path}")
            response = handler(self.server.context, req, **params)
        except _HTTPError as e:
            response = _error(e.status, str(e))
        except BerthError as e:
            response = _error(error_status(e), str(e))
        except Exception as e:  # noqa: BLE001 - a bug in one handler must not kill the daemon
            traceback.print_exc()
            response = _error(500, f"{type(e).__name__}: {e}")
        self._drain(body)
        self._send(response)

    do_GET = do_HEAD = do_POST = do_PUT = do_DELETE = _dispatch

    def _body_stream(self) -> BinaryIO:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            return io.BufferedReader(ChunkedReader(self.rfile))  # type: ignore[arg-type]
        length = int(self.headers.get("Content-Length") or 0)
        return io.BufferedReader(LimitedReader(self.rfile, length))  # type: ignore[arg-type]

    def _drain(self, body: BinaryIO) -> None:
        """Read what the handler left of the body, so the next request on the connection parses."""
        try:
            while body.read(65536):
                pass
        except (BerthError, OSError, ValueError):
            self.close_connection = True

    def _common_headers(self) -> None:
        self.send_header("Api-Version", API_VERSION)
        self.send_header("Docker-Experimental", "false")
        self.send_header("Ostype", "linux")

    def _send(self, r: Response) -> None:
        if r.hijack is not None:
            self._hijack(r)
            return
        self.send_response(r.status)
        self._common_headers()
        if r.content_type:
            self.send_header("Content-Type", r.content_type)
        for key, value in r.headers.items():
            self.send_header(key, value)
        if r.chunks is not None:
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.flush()
            self._send_chunks(r)
            return
        if r.status not in (204, 304):
            self.send_header("Content-Length", str(len(r.body)))
        self.end_headers()
        if self.command != "HEAD" and r.status not in (204, 304):
            self.wfile.write(r.body)
        self.wfile.flush()

    def _send_chunks(self, r: Response) -> None:
        if r.chunks is None:
            raise TypeError("chunked response without a chunk iterator")
        try:
            for chunk in r.chunks:
                if not chunk:
                    if self._client_gone():
                        break
                    continue
                if self.command != "HEAD":
                    self.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                    self.wfile.flush()
            self.wfile.write(b"0\r\n\r\n")
            self.wfile.flush()
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            close = getattr(r.chunks, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):
                    close()  # ends a generator that follows a log or the event bus

    def _client_gone(self) -> bool:
        """Has the client closed its end? (A follower with nothing to send asks now and then.)"""
        import select

        try:
            readable, _writable, _errored = select.select([self.connection], [], [], 0)
            return bool(readable) and self.connection.recv(1, socket.MSG_PEEK) == b""
        except OSError:
            return True

    def _hijack(self, r: Response) -> None:
        """Docker's hijacked connection: ``101 UPGRADED``, then raw bytes both ways."""
        if r.hijack is None:
            raise TypeError("upgraded response without a hijack handler")
        self.wfile.write(b"HTTP/1.1 101 UPGRADED\r\nContent-Type: " +
                         (r.content_type or "application/vnd.docker.raw-stream").encode() +
                         b"\r\nConnection: Upgrade\r\nUpgrade: tcp\r\nApi-Version: " +
                         API_VERSION.encode() + b"\r\n\r\n")
        self.wfile.flush()
        self.close_connection = True
        try:
            r.hijack(self)
        except (BrokenPipeError, ConnectionResetError):
            pass


class _HTTPError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _error(status: int, message: str) -> Response:
    return Response(status, json.dumps({"message": message}).encode() + b"\n")


class UnixHTTPServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
    address_family = socket.AF_UNIX
    daemon_threads = True          # a follower of logs/events must not hold up the shutdown
    allow_reuse_address = False
    request_queue_size = 64

    def __init__(self, path: str, router: Router, context: Any, verbose: bool = False) -> None:
        self.router = router
        self.context = context
        self.verbose = verbose
        self.socket_path = path
        super().__init__(path, APIRequestHandler, bind_and_activate=False)

    def server_bind(self) -> None:
        """Bind ``socket_path`` root-only: created under umask 077, never world-accessible."""
        _remove_stale_socket(self.socket_path)
        old = os.umask(0o177)
        try:
            self.socket.bind(self.socket_path)
        finally:
            os.umask(old)
        os.chmod(self.socket_path, 0o600)
        self.server_name, self.server_port = "berthd", 0

    def get_request(self) -> tuple[socket.socket, Any]:
        conn, _peer = self.socket.accept()
        return conn, ("unix", 0)

    def open(self) -> None:
        try:
            self.server_bind()
            self.server_activate()
        except BaseException:
            self.server_close()
            raise

    def server_close(self) -> None:
        super().server_close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket_path)


def _remove_stale_socket(path: str) -> None:
    """A socket file nobody listens on is left by a killed daemon; a live one is a conflict."""
    if not os.path.exists(path):
        os.makedirs(os.path.dirname(path) or ".", 0o711, exist_ok=True)
        return
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.settimeout(2)
        probe.connect(path)
    except OSError:
        os.unlink(path)
        return
    finally:
        probe.close()
    raise Conflict(f"another daemon is listening on {path}")
