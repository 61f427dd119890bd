"""The container's life as the shim sees it: start, pump output, reap, restart, stop.

Phases: ``running`` (PID 1 alive) -> ``exiting`` (PID 1 reaped and its cgroup removed, output
draining) -> ``ended`` -> either ``restarting`` (a timer starts it again) or ``done`` (final state
written; the shim exits).
"""
from __future__ import annotations

import errno
import os
import signal
import time

from . import runtime_child
from .config import ShimConfig
from .control import ControlServer, frame
from .logs import LogWriter, StreamLog
from .loop import READ, WRITE, Loop
from .restart import Backoff, RestartPolicy
from .runtime_child import RuntimeCallError
from .state import State

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~1 MB of RSS; the shim must stay small
    from typing import Callable

    from .health import HealthChecker
    from .runtime_child import CgroupPlan

#: after PID 1 exits, how long to wait for the rest of its output (writers outside the cgroup)
DRAIN_LIMIT = 5.0


def exit_code_of(status: int) -> int:
    """A wait status as Docker reports it: the exit code, or 128 + the signal that killed it."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


class Monitor:
    def __init__(self, cfg: ShimConfig, state: State, loop: Loop) -> None:
        self.cfg = cfg
        self.state = state
        self.loop = loop
        self.control: ControlServer | None = None
        self.policy = RestartPolicy(cfg.restart_name, cfg.restart_max_retries)
        self.backoff = Backoff()
        self.log = LogWriter(cfg.log_path, cfg.log_max_size, cfg.log_max_files)
        self.phase = "created"
        self.pid1 = 0
        self.cgroup_plan: CgroupPlan | None = None  # how to remove this run's cgroup in-process
        self.started = 0.0  # monotonic time of the last start
        self.outputs: dict[int, tuple[StreamLog, int]] = {}  # fd -> (its log, attach stream 1|2)
        self.master: int | None = None
        self.stdin_fd = -1
        self.stdin_buf = bytearray()
        self.stdin_eof = False
        self.winsize: tuple[int, int] | None = None
        self.oom_killed = False
        self.error = ""
        #: called with the exit code once the final state is written (stop and wait requests)
        self.exit_waiters: list[Callable[[int], None]] = []
        self.health: HealthChecker | None = None
        if cfg.health is not None:
            from . import health  # only containers with a check pay for it
            self.health = health.HealthChecker(cfg.health, loop, state)

    # starting ---------------------------------------------------------------------------------
    def start(self) -> int:
        """Start PID 1 (raises RuntimeCallError); return its host pid."""
        null = os.open(os.devnull, os.O_RDWR | os.O_CLOEXEC)
        child_ends = [null]
        try:
            if self.cfg.tty:
                stdio = (null, null, null)  # the runtime gives all three the pty slave
            else:
                stdio = (self._pipe_to_container(child_ends) if self.cfg.interactive else null,
                         self._pipe_from_container(child_ends, "stdout", 1),
                         self._pipe_from_container(child_ends, "stderr", 2))
            pid, master, self.cgroup_plan = runtime_child.start(
                self.cfg.bundle, self.cfg.runtime, stdio, self.cfg.tty)
        except BaseException:
            self._close_stdio()
            raise
        finally:
            for fd in child_ends:
                os.close(fd)
        if master is not None:
            self.master = master
            self._watch_output(master, "stdout", 0)
            if self.cfg.interactive:
                self.stdin_fd = os.dup(master)  # its own fd: the selector watches it separately
                os.set_blocking(self.stdin_fd, False)
            if self.winsize:
                self._set_winsize(*self.winsize)
        self.pid1, self.phase, self.started = pid, "running", time.monotonic()
        self.state.running(pid)
        if self.health is not None:
            self.health.start(pid)
        self.state.save()
        return pid

    def _pipe_to_container(self, child_ends: list[int]) -> int:
        r, w = os.pipe()
        child_ends.append(r)
        os.set_blocking(w, False)
        self.stdin_fd, self.stdin_eof = w, False
        return r

    def _pipe_from_container(self, child_ends: list[int], stream: str, number: int) -> int:
        r, w = os.pipe()
        child_ends.append(w)
        self._watch_output(r, stream, number)
        return w

    def _watch_output(self, fd: int, stream: str, number: int) -> None:
        os.set_blocking(fd, False)
        self.outputs[fd] = (StreamLog(self.log, stream), number)
        self.loop.watch(fd, READ, lambda mask: self._on_output(fd))

    # output -----------------------------------------------------------------------------------
    def _on_output(self, fd: int) -> None:
        try:
            data = os.read(fd, 65536)
        except BlockingIOError:
            return
        except OSError as e:
            if e.errno != errno.EIO:  # EIO: the pty's last slave was closed
                raise
            data = b""
        if data:
            stream_log, number = self.outputs[fd]
            stream_log.feed(data)
            if self.control is not None:
                self.control.broadcast(frame(number, data) if number else data)
        else:
            self._close_output(fd)
            if self.phase == "exiting" and not self.outputs:
                self._run_ended()

    def _close_output(self, fd: int) -> None:
        stream_log, _number = self.outputs.pop(fd)
        stream_log.flush()
        self.loop.forget(fd)
        os.close(fd)
        if fd == self.master:
            self.master = None

    def _drain_outputs(self) -> None:
        """Read what is left, then close: a writer that escaped the cgroup cannot hold us."""
        for fd in list(self.outputs):
            for _read in range(256):  # at most 16 MiB per stream
                if fd not in self.outputs or not self._readable(fd):
                    break
                self._on_output(fd)
            if fd in self.outputs:
                self._close_output(fd)

    @staticmethod
    def _readable(fd: int) -> bool:
        import select
        return bool(select.select([fd], [], [], 0)[0])

    # stdin ------------------------------------------------------------------------------------
    def write_stdin(self, data: bytes) -> None:
        if self.stdin_fd < 0 or self.stdin_eof:
            return  # not interactive, or stdin already closed: Docker drops it too
        self.stdin_buf += data
        self._on_stdin_writable()

    def close_stdin(self) -> None:
        """The attached client's EOF: the container sees EOF once the buffer is written (pipes
        only; a terminal has no EOF to give)."""
        if self.master is None:
            self.stdin_eof = True
            if not self.stdin_buf:
                self._close_stdin_fd()

    def _on_stdin_writable(self) -> None:
        try:
            while self.stdin_buf:
                del self.stdin_buf[:os.write(self.stdin_fd, self.stdin_buf)]
        except BlockingIOError:
            pass
        except OSError as e:  # the container closed its stdin or exited
            if e.errno not in (errno.EPIPE, errno.EIO):
                raise
            self.stdin_buf.clear()
            self._close_stdin_fd()
            return
        if self.stdin_buf:
            self.loop.watch(self.stdin_fd, WRITE, lambda mask: self._on_stdin_writable())
        else:
            self.loop.forget(self.stdin_fd)
            if self.stdin_eof:
                self._close_stdin_fd()

    def _close_stdin_fd(self) -> None:
        if self.stdin_fd >= 0:
            self.loop.forget(self.stdin_fd)
            os.close(self.stdin_fd)
            self.stdin_fd = -1
        self.stdin_buf.clear()

    def _close_stdio(self) -> None:
        for fd in list(self.outputs):
            self._close_output(fd)
        self._close_stdin_fd()

    # exit and restart -------------------------------------------------------------------------
    def reap(self) -> None:
        """Reap every child that exited: PID 1 and whatever orphans were reparented to us."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid == self.pid1:
                self._pid1_exited(exit_code_of(status))
            elif self.health is not None:
                self.health.reaped(pid, exit_code_of(status))

    def _pid1_exited(self, code: int) -> None:
        self.pid1 = 0
        self.state.exit_code = code
        self.loop.cancel("kill")
        if self.health is not None:
            self.health.stop()
        self.phase = "exiting"
        try:
            self.oom_killed = runtime_child.cleanup(self.cfg.bundle, self.cfg.runtime,
                                                    self.cgroup_plan)
            self.error = ""
        except RuntimeCallError as e:
            self.oom_killed, self.error = False, f"cleanup failed: {e}"
        if self.outputs:
            self.loop.call_later("drain", DRAIN_LIMIT, self._run_ended)
        else:
            self._run_ended()

    def _run_ended(self) -> None:
        self.loop.cancel("drain")
        self.phase = "ended"  # so the drain below does not end the run a second time
        self._drain_outputs()
        self._close_stdio()
        self._decide(self.state.exit_code, self.oom_killed, self.error)

    def _decide(self, code: int, oom_killed: bool, error: str) -> None:
        if self.policy.should_restart(code, self.state.restart_count,
                                      self.state.manually_stopped):
            self.phase = "restarting"
            self.state.finished("restarting", code, oom_killed, error)
            self.state.save()
            delay = self.backoff.next_delay(time.monotonic() - self.started)
            self.loop.call_later("restart", delay, self._restart)
        else:
            self._final(code, oom_killed, error)

    def _restart(self) -> None:
        self.state.restart_count += 1
        try:
            self.start()
        except RuntimeCallError as e:
            self.started = time.monotonic()
            self._decide(e.exit_code, False, str(e))

    def _final(self, code: int, oom_killed: bool, error: str) -> None:
        self.phase = "done"
        self.state.finished("exited", code, oom_killed, error)
        self.state.save()
        self.log.close()
        waiters, self.exit_waiters = self.exit_waiters, []
        for waiter in waiters:
            waiter(code)

    # requests ---------------------------------------------------------------------------------
    def on_final_exit(self, waiter: Callable[[int], None]) -> None:
        """``waiter(exit_code)`` once PID 1 has exited for good (no restart follows), its
        cgroup is gone, the log is closed and the final state is written; at once if it has."""
        if self.phase == "done":
            waiter(self.state.exit_code)
        else:
            self.exit_waiters.append(waiter)

    def stop(self, sig: int, timeout: float, waiter: Callable[[int], None]) -> None:
        """Manual stop: no more restarts; ``sig`` now, SIGKILL after ``timeout`` (< 0: never);
        ``waiter(exit_code)`` once PID 1 is gone and the final state is written."""
        if not self.state.manually_stopped:
            self.state.manually_stopped = True
            self.state.save()
        self.on_final_exit(waiter)
        if self.phase == "done":
            return
        if self.phase == "restarting":
            self.loop.cancel("restart")
            self._final(self.state.exit_code, self.state.oom_killed, self.state.error)
        elif self.phase == "running":
            self.signal(sig)
            if self.state.status == "paused":
                self.set_paused(False)  # a frozen process cannot act on the signal
            current = self.loop.deadline("kill")
            if timeout >= 0 and (current is None or timeout < current):
                self.loop.call_later("kill", timeout, self.kill_now)

    def signal(self, sig: int) -> None:
        if not self.pid1:
            raise ProcessLookupError("the container is not running")
        os.kill(self.pid1, sig)

    def set_paused(self, paused: bool) -> None:
        if self.phase != "running":
            raise ProcessLookupError("the container is not running")
        runtime_child.set_frozen(self.cfg.bundle, paused)
        self.state.status = "paused" if paused else "running"
        self.state.save()

    def resize(self, rows: int, cols: int) -> None:
        if not self.cfg.tty:
            raise ValueError("the container has no terminal")
        self.winsize = (rows, cols)
        if self.master is not None:
            self._set_winsize(rows, cols)

    def _set_winsize(self, rows: int, cols: int) -> None:
        import fcntl
        import struct
        import termios
        if self.master is None:
            raise ValueError("the container has no terminal")
        fcntl.ioctl(self.master, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))

    def kill_now(self) -> None:
        """SIGKILL to PID 1 (the stop timeout expired, or the shim itself is failing)."""
        if self.pid1:
            try:
                os.kill(self.pid1, signal.SIGKILL)
            except ProcessLookupError:
                pass
