"""Health checks in the shim (shim.json ``health``; imported only when a container has one).

While PID 1 runs, the probe command (``python -m berth.container.health ID PID``) runs every
``interval`` seconds, its output on a pipe, ended after ``timeout`` seconds. The results give the
status the way Docker's daemon computes it: ``starting`` until the first success, ``healthy`` after
a success, ``unhealthy`` after ``retries`` failures in a row; failures before the first success do
not count during ``start_period``. The status, the failing streak and the last five results are
state.json's ``health``.
"""
from __future__ import annotations

import os
import signal
import time

from .clock import rfc3339_nano
from .exit_hook import fd_limit
from .loop import READ, Loop
from .state import State

#: results kept in state.json, and the output kept of each (Docker's limits)
LOG_ENTRIES = 5
OUTPUT_LIMIT = 4096
#: after the timeout's SIGTERM, how long the probe has to end its test before SIGKILL
KILL_GRACE = 2.0


class HealthChecker:
    def __init__(self, settings: dict, loop: Loop, state: State) -> None:
        self.probe: list = settings["probe"]
        self.env = dict(os.environ)
        self.env.update(settings.get("probe_env") or {})
        self.interval = float(settings["interval"])
        self.timeout = float(settings["timeout"])
        self.start_period = float(settings.get("start_period") or 0)
        self.retries = int(settings["retries"])
        self.loop = loop
        self.state = state
        self.pid1 = 0
        self.run_started = 0.0
        self.pid = 0          # the running probe
        self.fd = -1          # its output
        self.output = bytearray()
        self.probe_started = ""
        self.timed_out = False

    # the container's runs ---------------------------------------------------------------------
    def start(self, pid1: int) -> None:
        """PID 1 started: the status is ``starting`` again, the first probe after ``interval``."""
        self.pid1, self.run_started = pid1, time.monotonic()
        previous = self.state.health or {}
        self.state.health = {"status": "starting", "failing_streak": 0,
                             "log": list(previous.get("log") or [])}
        self.loop.call_later("health", self.interval, self._run_probe)

    def stop(self) -> None:
        """PID 1 exited: no more probes; a running one is killed (``reap`` still sees it)."""
        self.pid1 = 0
        for timer in ("health", "health-timeout", "health-kill"):
            self.loop.cancel(timer)
        if self.pid:
            self._kill(signal.SIGKILL)

    # one probe --------------------------------------------------------------------------------
    def _run_probe(self) -> None:
        if not self.pid1 or self.pid:
            return
        if self.state.status == "paused":  # a frozen container cannot run its test: skip this one
            self.loop.call_later("health", self.interval, self._run_probe)
            return
        r, w = os.pipe2(os.O_CLOEXEC)
        try:
            pid = os.fork()
        except OSError as e:
            os.close(r)
            os.close(w)
            self.record(-1, f"cannot start the health check: {e}", rfc3339_nano())
            self.loop.call_later("health", self.interval, self._run_probe)
            return
        if pid == 0:
            _exec_probe(self.probe + [str(self.pid1)], self.env, w)
        os.close(w)
        os.set_blocking(r, False)
        self.pid, self.fd, self.timed_out = pid, r, False
        self.output = bytearray()
        self.probe_started = rfc3339_nano()
        self.loop.watch(r, READ, lambda mask: self._on_output())
        self.loop.call_later("health-timeout", self.timeout, self._on_timeout)

    def _on_output(self) -> None:
        try:
            data = os.read(self.fd, 65536)
        except BlockingIOError:
            return
        if not data:
            self._close_output()
            return
        room = OUTPUT_LIMIT - len(self.output)
        if room > 0:
            self.output += data[:room]

    def _close_output(self) -> None:
        if self.fd >= 0:
            self.loop.forget(self.fd)
            os.close(self.fd)
            self.fd = -1

    def _on_timeout(self) -> None:
        self.timed_out = True
        self._kill(signal.SIGTERM)  # the probe kills its test, then exits
        self.loop.call_later("health-kill", KILL_GRACE, lambda: self._kill(signal.SIGKILL))

    def _kill(self, sig: int) -> None:
        try:
            os.kill(self.pid, sig)
        except ProcessLookupError:
            pass

    def reaped(self, pid: int, code: int) -> bool:
        """The shim reaped ``pid``: if it was the probe, record its result. True if it was."""
        if not pid or pid != self.pid:
            return False
        self.pid = 0
        for timer in ("health-timeout", "health-kill"):
            self.loop.cancel(timer)
        if self.fd >= 0:
            while self.fd >= 0:  # what the probe wrote before it exited
                before = len(self.output)
                self._on_output()
                if self.fd >= 0 and len(self.output) == before:
                    self._close_output()  # nothing more without blocking (a leftover writer)
        if not self.pid1:
            return True  # the container exited meanwhile: the result means nothing
        if self.timed_out:
            self.record(-1, f"Health check exceeded timeout ({self.timeout:g}s)",
                        self.probe_started)
        else:
            self.record(code, self.output.decode("utf-8", "replace"), self.probe_started)
        self.loop.call_later("health", self.interval, self._run_probe)
        return True

    def record(self, code: int, output: str, started: str) -> None:
        """One probe's result (exit code, -1 for a timeout) into the status, streak and log."""
        health = self.state.health or {"status": "starting", "failing_streak": 0, "log": []}
        if code == 0:
            health["status"], health["failing_streak"] = "healthy", 0
        elif not (health["status"] == "starting"
                  and time.monotonic() - self.run_started < self.start_period):
            health["failing_streak"] += 1
            if health["failing_streak"] >= self.retries:
                health["status"] = "unhealthy"
        entry = {"Start": started, "End": rfc3339_nano(), "ExitCode": code, "Output": output}
        health["log"] = (list(health.get("log") or []) + [entry])[-LOG_ENTRIES:]
        self.state.health = health
        self.state.save()


def _exec_probe(argv: list, env: dict, out: int) -> None:
    """In the forked child: stdin /dev/null, stdout and stderr on the pipe, nothing else open."""
    try:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.closerange(3, fd_limit())
        os.execve(argv[0], argv, env)
    finally:
        os._exit(127)
