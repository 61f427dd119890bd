"""Foreground ``run`` and ``start -a``: live output, stdin, signal forwarding, restarts, --rm.

The CLI learns of the exit from the shim's ``wait`` request and then reads the log to its end."""
from __future__ import annotations

import select
import signal
import subprocess
import sys
import time

from ctr_helpers import shim_pids

LIMIT = 60.0  # a guard against hangs, not a timing assertion


def _popen(ctr, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "berth.cli", *args], env=ctr.env.environ(),
                            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def _read_line(proc: subprocess.Popen) -> bytes:
    assert proc.stdout is not None
    ready, _w, _x = select.select([proc.stdout], [], [], LIMIT)
    assert ready, "no output from the foreground container"
    return proc.stdout.readline()


def test_output_is_live_and_a_forwarded_signal_ends_the_run(ctr) -> None:
    proc = _popen(ctr, "run", "--rm", "busybox", "sh", "-c",
                  'trap "echo got TERM; exit 7" TERM; echo ready; '
                  "while :; do sleep 0.05; done")
    try:
        assert _read_line(proc) == b"ready\n"  # streamed while the container still runs
        assert proc.poll() is None
        proc.send_signal(signal.SIGTERM)  # --sig-proxy (the default) passes it on
        out, err = proc.communicate(timeout=LIMIT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 7, err
    assert out == b"got TERM\n"
    assert ctr.ids() == []


def test_stdin_output_streams_and_exit_code_with_rm(ctr) -> None:
    proc = ctr("run", "-i", "--rm", "busybox", "sh", "-c",
               "cat; echo to-stderr >&2; printf 'no newline'; exit 5",
               input=b"line one\nline two\n", check=False)
    assert proc.returncode == 5, proc.stderr
    assert proc.stdout == b"line one\nline two\nno newline"
    assert proc.stderr == b"to-stderr\n"
    assert ctr.ids() == []
    assert not shim_pids(str(ctr.env.run))


def test_foreground_run_lasts_until_the_last_restart(ctr) -> None:
    proc = ctr("run", "--name", "flaky", "--restart", "on-failure:2", "busybox", "sh", "-c",
               "echo try; exit 3", check=False)
    assert proc.returncode == 3, proc.stderr
    assert proc.stdout == b"try\n" * 3
    doc = ctr.inspect("flaky")
    assert (doc["State"]["Status"], doc["RestartCount"]) == ("exited", 2)


def test_start_attach_of_a_created_container(ctr) -> None:
    ctr("create", "--name", "later", "busybox", "sh", "-c", "sleep 0.2; echo hi; exit 2")
    started = time.monotonic()
    proc = ctr("start", "-a", "later", check=False)
    assert time.monotonic() - started >= 0.2  # it waited for the exit
    assert (proc.returncode, proc.stdout) == (2, b"hi\n")
    assert ctr.inspect("later")["State"]["ExitCode"] == 2
    assert not shim_pids(str(ctr.env.run))
