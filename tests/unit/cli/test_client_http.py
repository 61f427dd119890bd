"""``berth -H``'s own HTTP/1.1 reader (cli/client.py): chunked and Content-Length bodies, streams
read as they come, errors as one line; and the client imports no engine package or http.client."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from berth.cli.client import APIClient, DaemonError, Response, demux
from berth.errors import NotFound


def _reply(raw: bytes) -> Response:
    ours, theirs = socket.socketpair()
    theirs.sendall(raw)
    theirs.close()
    return Response(ours)


def test_content_length_body_and_headers():
    resp = _reply(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n"
                  b'{"a":1}trailing garbage')
    assert (resp.status, resp.reason, resp.headers["content-type"]) == \
        (200, "OK", "application/json")
    assert resp.read() == b'{"a":1}'
    resp.close()


def test_chunked_body_lines_and_exact_reads():
    body = b"".join(b"%x\r\n%s\r\n" % (len(c), c) for c in (b"line one\nli", b"ne two\n", b"xyz"))
    resp = _reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + body + b"0\r\n\r\n")
    assert list(resp) == [b"line one\n", b"line two\n", b"xyz"]
    resp.close()
    frames = b"\x01\0\0\0\0\0\0\x03out" + b"\x02\0\0\0\0\0\0\x03err"
    chunked = b"".join(b"%x\r\n%s\r\n" % (1, frames[i:i + 1]) for i in range(len(frames)))
    resp = _reply(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked + b"0\r\n\r\n")
    assert list(demux(resp, False)) == [("stdout", b"out"), ("stderr", b"err")]


def test_no_content_and_a_cut_reply():
    assert _reply(b"HTTP/1.1 204 No Content\r\n\r\n").read() == b""
    cut = _reply(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc")
    with pytest.raises(DaemonError, match="closed the connection"):
        cut.read()
    with pytest.raises(DaemonError, match="unreadable reply"):
        _reply(b"garbage\r\n\r\n")


@pytest.fixture
def fake_daemon() -> Iterator[tuple[str, list[bytes]]]:
    """A unix socket that records each request and answers 404 for /missing, else 200 + JSON."""
    base = tempfile.mkdtemp(prefix="berth-client-")
    path = os.path.join(base, "sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(4)
    seen: list[bytes] = []

    def serve() -> None:
        while True:
            try:
                conn, _peer = listener.accept()
            except OSError:
                return
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    data += conn.recv(65536)
                head, _sep, body = data.partition(b"\r\n\r\n")
                length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                               if line.lower().startswith(b"content-length:")), 0)
                while len(body) < length:
                    body += conn.recv(65536)
                seen.append(head + b"\r\n\r\n" + body)
                if b" /v1.41/missing" in head:
                    answer = json.dumps({"message": "No such container: x"}).encode()
                    conn.sendall(b"HTTP/1.1 404 Not Found\r\nContent-Length: %d\r\n\r\n%s"
                                 % (len(answer), answer))
                else:
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"ok\": true}")

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"unix://{path}", seen
    finally:
        listener.close()
        os.unlink(path)
        os.rmdir(base)


def test_requests_errors_and_uploads(fake_daemon, tmp_path: Path):
    host, seen = fake_daemon
    api = APIClient(host)
    assert api.json("POST", "/things", {"a": "x y", "skip": None}, body={"k": 1}) == {"ok": True}
    assert seen[-1].startswith(b"POST /v1.41/things?a=x+y HTTP/1.1\r\n")
    assert seen[-1].endswith(b'\r\n\r\n{"k": 1}') and b"Content-Type: application/json" in seen[-1]
    with pytest.raises(NotFound, match="No such container: x"):
        api.call("GET", "/missing")
    upload = tmp_path / "layer.tar"
    upload.write_bytes(b"x" * 100_000)
    with open(upload, "rb") as f:
        api.json("POST", "/images/create", {"fromSrc": "-"}, upload=f)
    assert b"Content-Length: 100000\r\n" in seen[-1] and seen[-1].endswith(b"x" * 100_000)


def test_no_daemon_is_one_clear_line(tmp_path: Path):
    with pytest.raises(DaemonError, match="Cannot connect to the berth daemon"):
        APIClient(f"unix://{tmp_path}/none.sock").call("GET", "/_ping")


def test_client_mode_imports_no_engine_service_nor_http_client():
    code = ("import sys\nfrom berth.cli import main\nfrom berth.cli import client\n"
            "from berth.api.shapes import create_body\n"
            "bad = [m for m in ('http.client', 'berth.api.daemon', 'berth.api.server', "
            "'berth.store', 'berth.registry', 'berth.network', 'berth.image', 'requests') "
            "if m in sys.modules]\nprint(bad)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)
    assert out.stdout.strip() == "[]"
