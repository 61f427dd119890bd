"""The container service's side of the shim contract: launch, requests, attach streams.

Not imported by the shim itself.
"""
from __future__ import annotations

import json
import os
import socket
import subprocess
from collections.abc import Iterator
from typing import Optional

from ..errors import BerthError, Conflict
from .command import shim_command
from .main import SOCKET_FILE


class ShimGone(BerthError):
    """No shim answers on the socket: it has exited and state.json is the final word."""


class ShimRefused(Conflict):
    """The shim answered ``{"ok": false, "error": ...}``."""


def spawn(run_dir: str, env: Optional[dict] = None) -> tuple[subprocess.Popen, dict]:
    """Launch the shim for the container in ``run_dir`` (its shim.json written) and wait for the
    outcome of the first start: ``{"ok": true, "pid": N}`` or ``{"ok": false, "error", "exit_code"}``.

    The returned Popen is the shim: wait() for it, or let it be reaped when it exits.
    """
    ready_r, ready_w = os.pipe()
    try:
        proc = subprocess.Popen(shim_command(run_dir, ready_w), stdin=subprocess.DEVNULL,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                pass_fds=(ready_w,), start_new_session=True, env=env)
    except BaseException:
        os.close(ready_r)
        raise
    finally:
        os.close(ready_w)
    with os.fdopen(ready_r, "rb") as ready:
        line = ready.readline()
    try:
        reply = json.loads(line)
    except ValueError:
        proc.wait()
        reply = {"ok": False, "exit_code": 125,
                 "error": f"the shim exited with status {proc.returncode} before starting"}
    return proc, reply


def connect(run_dir: str, timeout: Optional[float] = 30.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(os.path.join(run_dir, SOCKET_FILE))
    except (FileNotFoundError, ConnectionRefusedError):
        sock.close()
        raise ShimGone(f"no shim is running for {run_dir}") from None
    except BaseException:
        sock.close()
        raise
    return sock


def _read_line(sock: socket.socket) -> dict:
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(1)  # byte by byte: what follows an attach reply is the stream
        if not chunk:
            raise ShimGone("the shim closed the connection without answering")
        data += chunk
    reply = json.loads(data)
    if not reply.get("ok"):
        raise ShimRefused(str(reply.get("error") or "the shim refused the request"))
    return reply


def request(run_dir: str, message: dict, timeout: Optional[float] = 30.0) -> dict:
    """Send one request (``{"op": ...}``) and return the shim's reply; ``stop`` replies only when
    the container is gone, so give it a timeout above its stop timeout (or None)."""
    with connect(run_dir, timeout) as sock:
        sock.sendall(json.dumps(message).encode() + b"\n")
        return _read_line(sock)


def attach(run_dir: str, stdin: bool = False) -> socket.socket:
    """A connection streaming the container's output (see ``read_frames``) and, with ``stdin``,
    taking its input: send bytes, then ``shutdown(SHUT_WR)`` for EOF."""
    sock = connect(run_dir, None)
    try:
        sock.sendall(json.dumps({"op": "attach", "stdin": stdin}).encode() + b"\n")
        _read_line(sock)
    except BaseException:
        sock.close()
        raise
    return sock


def read_frames(sock: socket.socket) -> Iterator[tuple[int, bytes]]:
    """``(1 or 2, bytes)`` for each chunk of a non-tty attach stream, until the shim closes it."""
    buf = b""
    while True:
        while b"\n" not in buf:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk
        header, buf = buf.split(b"\n", 1)
        stream, length = (int(v) for v in header.split())
        while len(buf) < length:
            chunk = sock.recv(65536)
            if not chunk:
                return
            buf += chunk
        yield stream, buf[:length]
        buf = buf[length:]
