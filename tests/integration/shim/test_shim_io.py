"""Container output into json-file logs and attached clients, stdin from a client, terminals."""
from __future__ import annotations

import json
import os
import socket

import pytest
from shim_helpers import WAIT_LIMIT, log_entries, wait_for

from berth.runtime import runc
from berth.shim import client, read_logs
from berth.shim.clock import parse_rfc3339


def test_logs_are_json_file_with_streams_times_and_a_partial_last_line(box):
    box.launch(["sh", "-c", "echo out1; echo err1 >&2; echo out2; printf 'no newline'"])
    box.wait_exited()
    with open(box.log_path, "rb") as f:
        raw = f.read().splitlines()
    entries = [json.loads(line) for line in raw]
    assert all(list(e) == ["log", "stream", "time"] for e in entries)
    by_stream = {s: [e["log"] for e in entries if e["stream"] == s] for s in ("stdout", "stderr")}
    assert by_stream == {"stdout": ["out1\n", "out2\n", "no newline"], "stderr": ["err1\n"]}
    times = [e["time"] for e in entries]
    for t in times:
        assert t.endswith("Z") and len(t.split(".")[1]) == 10  # nine digits + Z
        parse_rfc3339(t)
    stdout_times = [parse_rfc3339(e["time"]) for e in entries if e["stream"] == "stdout"]
    assert stdout_times == sorted(stdout_times)


def test_read_logs_follow_sees_live_output(box):
    box.launch(["sh", "-c", "echo one; while [ ! -e /go ]; do sleep 0.05; done; echo two >&2"])
    wait_for(lambda: os.path.exists(box.log_path), "the log file")
    follower = read_logs(box.log_path, follow=True, timestamps=True,
                         stop=lambda: box.state()["status"] == "exited")
    stream, data = next(follower)
    assert stream == "stdout" and data.endswith(b" one\n")
    parse_rfc3339(data.split(b" ", 1)[0].decode())
    (box.rootfs / "go").touch()
    assert next(follower) == ("stderr", next(iter(read_logs(box.log_path, tail=1,
                                                            timestamps=True)))[1])
    assert list(follower) == []  # ends once the container has exited
    assert box.wait_exited()["exit_code"] == 0


def test_rotation_keeps_max_files_and_the_newest_lines(box):
    box.launch(["sh", "-c", "i=1; while [ $i -le 300 ]; do echo line$i; i=$((i+1)); done"],
               log_max_size=2000, log_max_files=3)
    box.wait_exited()
    path = box.log_path
    assert os.path.exists(path + ".1") and os.path.exists(path + ".2")
    assert not os.path.exists(path + ".3")
    assert all(os.path.getsize(p) <= 2000 for p in (path, path + ".1", path + ".2"))
    lines = [data.decode() for _stream, data in read_logs(path)]
    numbers = [int(line[4:]) for line in lines]
    assert numbers == list(range(numbers[0], 301)) and numbers[0] > 1
    assert [d for _stream, d in read_logs(path, tail=2)] == [b"line299\n", b"line300\n"]


def test_one_log_file_is_truncated_instead_of_rotated(box):
    box.launch(["sh", "-c", "i=1; while [ $i -le 100 ]; do echo line$i; i=$((i+1)); done"],
               log_max_size=500, log_max_files=1)
    box.wait_exited()
    assert not os.path.exists(box.log_path + ".1")
    assert os.path.getsize(box.log_path) <= 500
    assert log_entries(box.log_path)[-1]["log"] == "line100\n"


def read_frames_until(sock: socket.socket, marker: bytes) -> dict[int, bytes]:
    got = {1: b"", 2: b""}
    for stream, data in client.read_frames(sock):
        got[stream] += data
        if marker in got[1] + got[2]:
            break
    return got


def test_attach_streams_output_and_passes_stdin(box):
    box.launch(["sh", "-c", "echo hi-err >&2; cat; echo bye"], interactive=True)
    sock = client.attach(str(box.run_dir), stdin=True)
    sock.settimeout(WAIT_LIMIT)
    try:
        sock.sendall(b"hello cat\n")
        got = read_frames_until(sock, b"hello cat\n")
        assert b"hello cat\n" in got[1]
        sock.shutdown(socket.SHUT_WR)  # EOF: cat ends, then the script
        rest = {1: b"", 2: b""}
        for stream, data in client.read_frames(sock):  # until the shim closes the stream
            rest[stream] += data
        assert rest[1].endswith(b"bye\n")
    finally:
        sock.close()
    assert box.wait_exited()["exit_code"] == 0
    logged = [(e["stream"], e["log"]) for e in log_entries(box.log_path)]
    assert ("stdout", "hello cat\n") in logged and ("stdout", "bye\n") in logged
    assert ("stderr", "hi-err\n") in logged


def test_stdin_is_ignored_without_interactive(box):
    box.launch(["sh", "-c", "cat; echo cat-saw-eof"])  # stdin is /dev/null
    box.wait_exited()
    assert [e["log"] for e in log_entries(box.log_path)] == ["cat-saw-eof\n"]


def read_raw_until(sock: socket.socket, marker: bytes) -> bytes:
    data = b""
    while marker not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise AssertionError(f"stream ended before {marker!r}: {data!r}")
        data += chunk
    return data


@pytest.mark.parametrize("runtime", ["berth", "runc"])
def test_tty_gives_a_terminal_and_resize_works(make_box, runtime):
    if runtime == "runc" and not runc.available():
        pytest.skip("runc is not installed")
    box = make_box(runtime)
    box.launch(["sh"], tty=True, interactive=True)
    assert box.request({"op": "resize", "rows": 33, "cols": 101}) == {"ok": True}
    sock = client.attach(str(box.run_dir), stdin=True)
    sock.settimeout(WAIT_LIMIT)
    try:
        sock.sendall(b"tty; stty size; echo DONE-$((6*7))\n")  # the terminal echoes the input
        out = read_raw_until(sock, b"DONE-42\r\n")
        assert b"/dev/console" in out or b"/dev/pts/" in out
        assert b"33 101" in out
        sock.sendall(b"exit 5\n")
    finally:
        sock.close()
    state = box.wait_exited()
    assert state["exit_code"] == 5
    logged = "".join(e["log"] for e in log_entries(box.log_path))
    assert "33 101\r\n" in logged
    assert {e["stream"] for e in log_entries(box.log_path)} == {"stdout"}


def test_tty_without_stdin(box):
    box.launch(["tty"], tty=True)
    box.wait_exited()
    text = "".join(e["log"] for e in log_entries(box.log_path))
    assert text.startswith("/dev/console") or text.startswith("/dev/pts/")


def test_input_sent_just_before_the_client_leaves_is_delivered(box):
    box.launch(["sh", "-c", "echo prompt; read line; echo got:$line"], interactive=True)
    sock = client.attach(str(box.run_dir), stdin=True)
    sock.sendall(b"last words\n")
    sock.close()  # at once, with the prompt possibly unread: the shim still reads the input
    assert box.wait_exited()["exit_code"] == 0
    assert "got:last words\n" in [e["log"] for e in log_entries(box.log_path)]


def test_a_half_closed_client_still_gets_its_stop_reply(box):
    box.launch(["sleep", "1000"])
    with client.connect(str(box.run_dir)) as sock:
        sock.sendall(b'{"op": "stop", "timeout": 0}\n')
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while not reply.endswith(b"\n"):
            chunk = sock.recv(4096)
            assert chunk, "the shim closed without replying"
            reply += chunk
    assert json.loads(reply) == {"ok": True, "exit_code": 137}
