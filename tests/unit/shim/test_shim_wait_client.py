"""The client side of the shim's ``wait`` op (container/shimctl.py) and the foreground CLI's log
copy that uses it, against a fake shim socket: the reply, a refusal by an older shim, EOF."""
from __future__ import annotations

import json
import socket
import threading
import time
from types import SimpleNamespace
from typing import Any, Callable

import pytest

from berth.cli.containers import _copy_log
from berth.container import shimctl


class FakeShim:
    """Listens on ``path``; ``answer(conn, request)`` handles each request in a thread."""

    def __init__(self, path: str, answer: Callable[[socket.socket, dict], None]) -> None:
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(path)
        self.listener.listen(4)
        self.answer = answer
        self.requests: list[dict] = []
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _peer = self.listener.accept()
        with conn:
            data = b""
            while not data.endswith(b"\n"):
                data += conn.recv(4096)
            request = json.loads(data)
            self.requests.append(request)
            self.answer(conn, request)

    def close(self) -> None:
        self.thread.join(10)
        self.listener.close()


def _paths(tmp_path: Any) -> Any:
    return SimpleNamespace(id="c" * 64, socket=str(tmp_path / "shim.sock"),
                           log=str(tmp_path / "ctr-json.log"))


def _entry(stream: str, text: str) -> bytes:
    return json.dumps({"log": text, "stream": stream,
                       "time": "2024-01-02T03:04:05.000000000Z"}).encode() + b"\n"


class NoRecords:
    """A service the CLI must not poll while the shim announces the exit."""

    @property
    def records(self) -> Any:
        raise AssertionError("the record was polled although the shim announces the exit")


def test_wait_reply_blocks_until_the_shim_answers(tmp_path) -> None:
    def answer(conn: socket.socket, request: dict) -> None:
        time.sleep(0.2)
        conn.sendall(b'{"ok":true,"status":"exited","exit_code":3}\n')

    paths = _paths(tmp_path)
    shim = FakeShim(paths.socket, answer)
    with shimctl.open_wait(paths) as sock:
        assert shimctl.wait_reply(sock) == {"ok": True, "status": "exited", "exit_code": 3}
    shim.close()
    assert shim.requests == [{"op": "wait"}]


def test_a_refusal_is_an_error_and_eof_is_none(tmp_path) -> None:
    paths = _paths(tmp_path)
    shim = FakeShim(paths.socket, lambda conn, req: conn.sendall(
        b'{"ok":false,"error":"unknown op \'wait\'"}\n'))
    with shimctl.open_wait(paths) as sock, pytest.raises(shimctl.ShimError, match="unknown op"):
        shimctl.wait_reply(sock)
    shim.close()
    (tmp_path / "shim.sock").unlink()
    shim = FakeShim(paths.socket, lambda conn, req: None)  # closes without a reply: it died
    with shimctl.open_wait(paths) as sock:
        assert shimctl.wait_reply(sock) is None
    shim.close()


def test_no_shim_is_a_shim_error(tmp_path) -> None:
    with pytest.raises(shimctl.ShimError):
        shimctl.open_wait(_paths(tmp_path))


def test_copy_log_stops_when_the_exit_is_announced_with_every_line(tmp_path, capfdbinary) -> None:
    paths = _paths(tmp_path)
    with open(paths.log, "wb") as f:
        f.write(_entry("stdout", "early\n"))

    def answer(conn: socket.socket, request: dict) -> None:
        time.sleep(0.3)  # the follower idles meanwhile; then the last lines and the exit
        with open(paths.log, "ab") as f:
            f.write(_entry("stderr", "late\n") + _entry("stdout", "last"))
        conn.sendall(b'{"ok":true,"status":"exited","exit_code":0}\n')

    shim = FakeShim(paths.socket, answer)
    started = time.monotonic()
    _copy_log(NoRecords(), "c" * 64, paths)
    assert time.monotonic() - started >= 0.3
    shim.close()
    captured = capfdbinary.readouterr()
    assert (captured.out, captured.err) == (b"early\nlast", b"late\n")


def test_copy_log_polls_the_record_when_the_shim_has_no_wait_op(tmp_path, capfdbinary) -> None:
    paths = _paths(tmp_path)
    with open(paths.log, "wb") as f:
        f.write(_entry("stdout", "hello\n"))
    shim = FakeShim(paths.socket, lambda conn, req: conn.sendall(
        b'{"ok":false,"error":"unknown op \'wait\'"}\n'))
    polls = []

    def reconcile(record: Any) -> Any:
        polls.append(record)
        return SimpleNamespace(running=len(polls) < 3)  # exits at the third look

    svc = SimpleNamespace(records=SimpleNamespace(get=lambda cid: object()),
                          _reconcile=reconcile)
    _copy_log(svc, "c" * 64, paths)
    shim.close()
    assert len(polls) == 3
    assert capfdbinary.readouterr().out == b"hello\n"


def test_wait_gone_wakes_when_the_shim_exits_and_times_out_while_it_runs() -> None:
    import subprocess
    import sys

    def fake_shim(seconds: float) -> subprocess.Popen:
        # shim_alive recognises a shim by "berth.shim" in its command line, which it has only
        # once the child has exec'd: wait for that (a guard against hangs, not a timing check)
        proc = subprocess.Popen([sys.executable, "-c", f"import time; time.sleep({seconds})",
                                 "berth.shim"])
        deadline = time.monotonic() + 30
        while not shimctl.shim_alive(proc.pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        return proc

    short = fake_shim(0.3)
    try:
        assert shimctl.shim_alive(short.pid)
        assert shimctl.wait_gone(short.pid, 30) is True
        assert not shimctl.shim_alive(short.pid)  # a zombie until reaped: gone all the same
    finally:
        short.kill()
        short.wait()
    long = fake_shim(60)
    try:
        assert shimctl.wait_gone(long.pid, 0.2) is False
    finally:
        long.kill()
        long.wait()
    assert shimctl.wait_gone(long.pid, 1) is True  # reaped: no such process
