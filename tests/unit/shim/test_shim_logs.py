"""json-file writer (line cutting, rotation) and reader (tail, since, timestamps, follow)."""
from __future__ import annotations

import json
import os

from berth.shim import read_logs
from berth.shim.logs import MAX_LINE, LogWriter, StreamLog, log_files


def entries(path) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


def test_stream_log_cuts_lines_and_keeps_the_partial_rest(tmp_path):
    writer = LogWriter(str(tmp_path / "c.log"))
    out = StreamLog(writer, "stdout")
    out.feed(b"a\nb")
    out.feed(b"c\n\nd")
    assert [e["log"] for e in entries(writer.path)] == ["a\n", "bc\n", "\n"]
    out.flush()
    out.flush()
    assert [e["log"] for e in entries(writer.path)][-1] == "d"
    assert len(entries(writer.path)) == 4


def test_long_lines_are_written_in_16k_pieces(tmp_path):
    writer = LogWriter(str(tmp_path / "c.log"))
    out = StreamLog(writer, "stderr")
    out.feed(b"x" * (2 * MAX_LINE + 10) + b"\n")
    logs = [e["log"] for e in entries(writer.path)]
    assert [len(x) for x in logs] == [MAX_LINE, MAX_LINE, 11]
    assert "".join(logs) == "x" * (2 * MAX_LINE + 10) + "\n"
    assert {e["stream"] for e in entries(writer.path)} == {"stderr"}


def test_invalid_utf8_is_replaced(tmp_path):
    writer = LogWriter(str(tmp_path / "c.log"))
    writer.write("stdout", b"caf\xc3\xa9 \xff\n")
    assert entries(writer.path)[0]["log"] == "caf\u00e9 \ufffd\n"


def test_rotation_shifts_files_and_drops_the_oldest(tmp_path):
    path = str(tmp_path / "c.log")
    writer = LogWriter(path, max_size=200, max_files=3)
    for i in range(40):
        writer.write("stdout", b"line %02d\n" % i)
    assert log_files(path) == [path + ".2", path + ".1", path]
    assert all(os.path.getsize(p) <= 200 for p in log_files(path))
    got = [d for _stream, d in read_logs(path)]
    assert got[-1] == b"line 39\n"
    assert got == [b"line %02d\n" % i for i in range(40 - len(got), 40)]


def test_reopening_a_writer_continues_the_size(tmp_path):
    path = str(tmp_path / "c.log")
    LogWriter(path, max_size=100, max_files=2).write("stdout", b"x" * 40 + b"\n")
    writer = LogWriter(path, max_size=100, max_files=2)
    writer.write("stdout", b"y" * 40 + b"\n")
    assert os.path.exists(path + ".1")


def test_tail_since_and_timestamps(tmp_path):
    path = str(tmp_path / "c.log")
    writer = LogWriter(path)
    writer.write("stdout", b"old\n", "2020-01-01T00:00:00.000000001Z")
    writer.write("stderr", b"mid\n", "2021-01-01T00:00:00.5Z")
    writer.write("stdout", b"new", "2022-01-01T00:00:00.000000000Z")
    assert list(read_logs(path)) == [("stdout", b"old\n"), ("stderr", b"mid\n"),
                                     ("stdout", b"new")]
    assert [d for _stream, d in read_logs(path, tail=2)] == [b"mid\n", b"new"]
    assert list(read_logs(path, tail=0)) == []
    assert [d for _stream, d in read_logs(path, since="2021-01-01T00:00:00Z")] == [b"mid\n", b"new"]
    assert [d for _stream, d in read_logs(path, since=1609459200.6)] == [b"new"]  # 2021-01-01 + 0.6s
    assert list(read_logs(path, tail=1, timestamps=True)) == [
        ("stdout", b"2022-01-01T00:00:00.000000000Z new")]


def test_damaged_lines_are_skipped(tmp_path):
    path = tmp_path / "c.log"
    path.write_bytes(b'{"log":"a\\n","stream":"stdout","time":"2020-01-01T00:00:00Z"}\n'
                     b'garbage\n{"log":1}\n')
    assert list(read_logs(str(path))) == [("stdout", b"a\n")]


def test_follow_reads_new_entries_across_rotation_until_stopped(tmp_path):
    path = str(tmp_path / "c.log")
    writer = LogWriter(path, max_size=120, max_files=2)
    writer.write("stdout", b"first\n")
    done = []
    follower = read_logs(path, follow=True, stop=lambda: bool(done), poll_interval=0.001)
    assert next(follower) == ("stdout", b"first\n")
    writer.write("stdout", b"second\n")
    assert next(follower) == ("stdout", b"second\n")
    writer.write("stdout", b"third " + b"x" * 60 + b"\n")  # this one rotates the file
    assert os.path.exists(path + ".1")
    assert next(follower)[1].startswith(b"third")
    writer.write("stderr", b"last words")
    done.append(True)
    assert list(follower) == [("stderr", b"last words")]


def test_follow_sees_the_restart_of_a_single_file(tmp_path):
    path = str(tmp_path / "c.log")
    writer = LogWriter(path, max_size=150, max_files=1)
    writer.write("stdout", b"a" * 60 + b"\n")
    follower = read_logs(path, follow=True, poll_interval=0.001)
    assert next(follower)[1].startswith(b"a")
    writer.write("stdout", b"b" * 60 + b"\n")  # replaces the file first
    assert next(follower)[1].startswith(b"b")
    follower.close()


def test_follow_waits_for_the_file(tmp_path):
    path = str(tmp_path / "later.log")
    done = []
    follower = read_logs(path, follow=True, stop=lambda: bool(done), poll_interval=0.001)
    LogWriter(path).write("stdout", b"hello\n")
    assert next(follower) == ("stdout", b"hello\n")
    done.append(True)
    assert list(follower) == []


def test_follow_reads_an_entry_that_was_half_written_at_first(tmp_path):
    path = tmp_path / "c.log"
    whole = b'{"log":"a\\n","stream":"stdout","time":"2020-01-01T00:00:00Z"}\n'
    path.write_bytes(whole + whole[:20])
    follower = read_logs(str(path), follow=True, poll_interval=0.001)
    assert next(follower) == ("stdout", b"a\n")
    with open(path, "ab") as f:
        f.write(whole[20:])
    assert next(follower) == ("stdout", b"a\n")
    follower.close()
