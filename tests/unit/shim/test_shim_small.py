"""Restart policy and backoff, RFC 3339 times, shim.json, state.json, argument and wire formats."""
from __future__ import annotations

import json
import os
import signal
import socket

import pytest
from testlib import python_output

from berth.errors import InvalidArgument, NotFound
from berth.shim import RestartPolicy, client, read_state
from berth.shim.clock import ZERO_TIME, parse_rfc3339, rfc3339_nano
from berth.shim.config import load_config, signal_number
from berth.shim.control import encode, frame
from berth.shim.main import parse_args
from berth.shim.restart import Backoff
from berth.shim.state import State


@pytest.mark.parametrize("name, code, count, stopped, expected", [
    ("no", 1, 0, False, False),
    ("always", 0, 100, False, True),
    ("unless-stopped", 0, 0, False, True),
    ("always", 1, 0, True, False),
    ("on-failure", 0, 0, False, False),
    ("on-failure", 1, 0, False, True),
])
def test_restart_policy(name, code, count, stopped, expected):
    assert RestartPolicy(name).should_restart(code, count, stopped) is expected


def test_on_failure_counts_retries():
    policy = RestartPolicy.parse("on-failure:3")
    assert [policy.should_restart(1, n, False) for n in range(5)] == [True] * 3 + [False] * 2
    assert RestartPolicy.parse("on-failure").should_restart(1, 10**6, False)
    for bad in ("sometimes", "always:3", "on-failure:x"):
        with pytest.raises(InvalidArgument):
            RestartPolicy.parse(bad)


def test_backoff_doubles_caps_and_resets():
    backoff = Backoff()
    delays = [backoff.next_delay(0.5) for _restart in range(12)]
    assert delays[:4] == [0.1, 0.2, 0.4, 0.8]
    assert delays[-1] == 60.0 and max(delays) == 60.0
    assert backoff.next_delay(10.0) == 0.1


def test_rfc3339_round_trip_and_offsets():
    ns = 1_700_000_000_123_456_789
    text = rfc3339_nano(ns)
    assert text == "2023-11-14T22:13:20.123456789Z"
    assert parse_rfc3339(text) == ns
    assert parse_rfc3339("2023-11-14T23:13:20.123456789+01:00") == ns
    assert parse_rfc3339("1970-01-01T00:00:00Z") == 0
    assert parse_rfc3339("2000-02-29T12:00:00.5Z") == 951825600_500_000_000
    assert parse_rfc3339(ZERO_TIME) < 0
    for bad in ("2023-11-14", "2023-13-01T00:00:00Z", "2023-11-14T22:13:20", "yesterday",
                "2023-11-14T22:13:20.Z"):
        with pytest.raises(ValueError):
            parse_rfc3339(bad)


def test_signal_names():
    assert signal_number("SIGTERM") == signal_number("term") == signal_number("15") == 15
    assert signal_number(9) == signal.SIGKILL
    for bad in ("SIGNOPE", 0, 99999):
        with pytest.raises(InvalidArgument):
            signal_number(bad)


def test_shim_json(tmp_path):
    (tmp_path / "shim.json").write_text(json.dumps({
        "id": "a" * 64, "bundle": "/b", "runtime": "runc", "log_path": "/l", "log_max_size": 10,
        "log_max_files": 3, "restart": {"name": "on-failure", "max_retries": 2},
        "stop_signal": "SIGINT", "stop_timeout": 1.5, "tty": True, "interactive": True}))
    cfg = load_config(str(tmp_path))
    assert (cfg.runtime, cfg.log_max_size, cfg.log_max_files) == ("runc", 10, 3)
    assert (cfg.restart_name, cfg.restart_max_retries) == ("on-failure", 2)
    assert (cfg.stop_signal, cfg.stop_timeout, cfg.tty, cfg.interactive) == (2, 1.5, True, True)
    (tmp_path / "shim.json").write_text(json.dumps({"bundle": "/b", "log_path": "/l"}))
    cfg = load_config(str(tmp_path))
    assert (cfg.runtime, cfg.restart_name, cfg.stop_signal, cfg.stop_timeout, cfg.tty) == \
        ("berth", "no", 15, 10.0, False)


@pytest.mark.parametrize("raw", [
    "{", "[]", '{"log_path": "/l"}', '{"bundle": "/b", "log_path": "/l", "tty": "yes"}',
    '{"bundle": "/b", "log_path": "/l", "restart": {"name": "never"}}',
    '{"bundle": "/b", "log_path": "/l", "log_max_size": true}',
])
def test_bad_shim_json(tmp_path, raw):
    (tmp_path / "shim.json").write_text(raw)
    with pytest.raises(InvalidArgument):
        load_config(str(tmp_path))


def test_state_file_is_replaced_whole(tmp_path):
    with pytest.raises(NotFound):
        read_state(str(tmp_path))
    state = State(str(tmp_path / "state.json"), 42)
    state.save()
    assert read_state(str(tmp_path))["status"] == "created"
    state.running(1234)
    state.finished("exited", 3, oom_killed=True)
    state.save()
    saved = read_state(str(tmp_path))
    assert (saved["status"], saved["exit_code"], saved["oom_killed"], saved["pid"]) == \
        ("exited", 3, True, 0)
    assert saved["shim_pid"] == 42 and saved["finished_at"] >= saved["started_at"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["state.json"]


def test_parse_args():
    assert parse_args(["--ready-fd", "5", "/run/x"]) == ("/run/x", 5, -1)
    assert parse_args(["/run/x", "--ready-fd=7"]) == ("/run/x", 7, -1)
    assert parse_args(["/run/x"]) == ("/run/x", -1, -1)
    assert parse_args(["--ready-fd", "5", "--go-fd", "6", "/run/x"]) == ("/run/x", 5, 6)
    for bad in ([], ["--ready-fd", "x", "/r"], ["/a", "/b"], ["--verbose", "/r"],
                ["--go-fd", "6"], ["--ready-fd", "5"]):
        with pytest.raises(ValueError):
            parse_args(bad)


def test_await_go_wants_go_and_takes_eof_as_no():
    from berth.shim.main import await_go

    r, w = os.pipe()
    os.write(w, b"go\n")
    os.close(w)
    assert await_go(r) is True
    r, w = os.pipe()
    os.close(w)
    assert await_go(r) is False  # the launcher gave up: the shim exits unused
    r, w = os.pipe()
    os.write(w, b"/some/dir\n")
    os.close(w)
    with pytest.raises(ValueError):
        await_go(r)


def test_wire_format_and_frame_reader():
    assert encode({"ok": True}) == b'{"ok":true}\n'
    a, b = socket.socketpair()
    with a, b:
        a.sendall(frame(1, b"hello\n") + frame(2, b"") + frame(2, b"err\nmore"))
        a.close()
        assert list(client.read_frames(b)) == [(1, b"hello\n"), (2, b""), (2, b"err\nmore")]


def test_the_shim_imports_without_typing() -> None:
    """typing costs every idle shim ~1 MB of RSS (issue 9's budget is 12 MB per container)."""
    out = python_output("""
        import berth.shim.main
        print(sorted(name for name, module in sys.modules.items()
                     if module is not None and name in ('typing', 'dataclasses', 'berth.runtime')))
    """, unimportable=["typing"])
    assert out == "[]\n"
