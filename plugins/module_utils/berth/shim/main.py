"""berth-shim: ``python -m berth.shim --ready-fd N <container run dir>`` (docs/design/shim.md).

With ``--go-fd G`` the shim starts ahead of its container: it loads, forks the runtime child of
the first start, then waits for ``go`` on fd G before it reads anything in the run dir.

The shim becomes a child subreaper, starts the container, reports the first start on the ready
fd, then serves the control socket and monitors the container until its final exit. It then
writes the final state.json, removes shim.sock and exits: state.json is the source of truth once
the shim is gone, so it does not wait for a ``shutdown`` request.
"""
from __future__ import annotations

import os
import signal
import sys
import time

from ..errors import BerthError
from . import runtime_child
from .command import GO
from .config import ShimConfig, load_config, signal_number
from .control import Connection, ControlServer, RequestError
from .exit_hook import run_detached, still_running
from .loop import Loop
from .monitor import Monitor
from .runtime_child import RuntimeCallError
from .state import STATE_FILE, State

SOCKET_FILE = "shim.sock"
USAGE = "usage: berth-shim --ready-fd N [--go-fd G] RUN_DIR"
#: after the final exit, how long attached clients get to receive the rest of the output
FLUSH_LIMIT = 5.0
PR_SET_CHILD_SUBREAPER = 36


def parse_args(argv: list[str]) -> tuple[str, int, int]:
    """``--ready-fd N [--go-fd G] RUN_DIR`` (any order; ``--ready-fd=N`` too) -> (run dir, ready
    fd or -1, go fd or -1)."""
    values = {"--ready-fd": -1, "--go-fd": -1}
    run_dir = ""
    args = list(argv)
    while args:
        arg = args.pop(0)
        name, eq, value = arg.partition("=")
        if name in values and (eq or args):
            values[name] = int(value if eq else args.pop(0))
        elif not arg.startswith("-") and not run_dir:
            run_dir = arg
        else:
            raise ValueError(f"unexpected argument {arg!r}")
    if not run_dir:
        raise ValueError("missing RUN_DIR")
    return run_dir, values["--ready-fd"], values["--go-fd"]


def await_go(fd: int) -> bool:
    """Block until the launcher has written the bundle and shim.json and says ``go``; False if it
    closed the pipe instead (it gave up on the start, or died)."""
    data = b""
    try:
        while b"\n" not in data:
            chunk = os.read(fd, 64)
            if not chunk:
                return False
            data += chunk
    finally:
        os.close(fd)
    if data.split(b"\n", 1)[0] != GO:
        raise ValueError(f"unexpected line from the launcher: {data[:100]!r}")
    return True


class ReadyPipe:
    """The pipe the launcher waits on: one JSON line about the first start, then EOF."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        if fd >= 0:
            os.set_inheritable(fd, False)

    def send(self, message: dict) -> None:
        if self.fd < 0:
            return
        from .control import encode
        try:
            os.write(self.fd, encode(message))
        except OSError:
            pass  # the launcher gave up waiting; state.json still tells the story
        finally:
            os.close(self.fd)
            self.fd = -1


def set_child_subreaper() -> None:
    import ctypes
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"prctl(PR_SET_CHILD_SUBREAPER): {os.strerror(err)}")


def trim_heap() -> None:
    """Give the C heap freed after start-up back to the kernel (~0.5 MB of an idle shim's RSS)."""
    import ctypes
    try:
        ctypes.CDLL(None).malloc_trim(0)
    except AttributeError:
        pass  # not glibc


class Shim:
    def __init__(self, run_dir: str, cfg: ShimConfig) -> None:
        self.cfg = cfg
        self.loop = Loop()
        self.state = State(os.path.join(run_dir, STATE_FILE), os.getpid())
        self.state.save()
        self.monitor = Monitor(cfg, self.state, self.loop)
        ops = {"state": self._op_state, "stop": self._op_stop, "kill": self._op_kill,
               "attach": self._op_attach, "resize": self._op_resize, "pause": self._op_pause,
               "resume": self._op_resume, "shutdown": self._op_shutdown, "wait": self._op_wait}
        self.control = ControlServer(os.path.join(run_dir, SOCKET_FILE), self.loop, ops,
                                     self.monitor.write_stdin, self.monitor.close_stdin)
        self.monitor.control = self.control
        self.loop.on_signal(signal.SIGCHLD, self.monitor.reap)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            self.loop.on_signal(sig, self._terminate)

    def run(self, ready: ReadyPipe) -> int:
        try:
            pid = self.monitor.start()
        except RuntimeCallError as e:
            self.state.finished("exited", e.exit_code, error=str(e))
            self.state.save()
            ready.send({"ok": False, "error": str(e), "exit_code": e.exit_code})
            self.close()
            return 0
        ready.send({"ok": True, "pid": pid})
        trim_heap()
        try:
            self._serve()
        except Exception as e:  # noqa: BLE001 - a broken shim must not leave the container behind
            self._fail(e)
            return 1
        finally:
            self.close()
            # the final exit (not between restarts): e.g. the service releases the network now
            if not still_running(self.cfg.released_by):  # else that client releases the run
                run_detached(self.cfg.on_exit, self.cfg.on_exit_env)
        return 0

    def _serve(self) -> None:
        while self.monitor.phase != "done":
            self.loop.run_once()
        self.control.stop_listening()
        self.control.close_all_when_flushed()
        deadline = time.monotonic() + FLUSH_LIMIT
        while not self.control.idle() and time.monotonic() < deadline:
            self.loop.run_once(max_wait=deadline - time.monotonic())

    def _fail(self, error: BaseException) -> None:
        self.monitor.kill_now()
        deadline = time.monotonic() + FLUSH_LIMIT
        while self.monitor.pid1 and time.monotonic() < deadline:
            self.monitor.reap()
            time.sleep(0.01)
        self.state.finished("exited", self.state.exit_code or 137,
                            error=f"shim failed: {type(error).__name__}: {error}")
        self.state.save()

    def close(self) -> None:
        self.control.close_all()
        self.loop.close()

    def _terminate(self) -> None:
        """SIGTERM/SIGINT/SIGHUP to the shim: stop the container as configured, then exit."""
        self.monitor.stop(self.cfg.stop_signal, self.cfg.stop_timeout, lambda code: None)

    # ops --------------------------------------------------------------------------------------
    def _op_state(self, conn: Connection, request: dict) -> dict:
        return {"ok": True, **self.state.as_dict()}

    def _op_stop(self, conn: Connection, request: dict) -> None:
        sig = _signal_arg(request, self.cfg.stop_signal)
        timeout = request.get("timeout")
        if timeout is None:
            timeout = self.cfg.stop_timeout
        if not isinstance(timeout, (int, float)) or isinstance(timeout, bool):
            raise RequestError("timeout must be a number of seconds")
        self.monitor.stop(sig, float(timeout),
                          lambda code: self.control.reply(conn, {"ok": True, "exit_code": code}))
        return None

    def _op_wait(self, conn: Connection, request: dict) -> None:
        """Replies (like ``state``) once the container has exited for good: a foreground client
        learns of the exit without polling, and the log is complete by then."""
        self.monitor.on_final_exit(
            lambda code: self.control.reply(conn, {"ok": True, **self.state.as_dict()}))
        return None

    def _op_kill(self, conn: Connection, request: dict) -> dict:
        try:
            self.monitor.signal(_signal_arg(request, signal.SIGKILL))
        except ProcessLookupError:
            raise RequestError("the container is not running") from None
        return {"ok": True}

    def _op_attach(self, conn: Connection, request: dict) -> dict:
        if self.monitor.phase == "done":
            raise RequestError("the container has exited")
        conn.attached = True
        conn.stdin = bool(request.get("stdin")) and self.cfg.interactive
        return {"ok": True}

    def _op_resize(self, conn: Connection, request: dict) -> dict:
        rows, cols = request.get("rows"), request.get("cols")
        if not all(isinstance(v, int) and not isinstance(v, bool) and 0 < v < 65536
                   for v in (rows, cols)):
            raise RequestError("rows and cols must be integers between 1 and 65535")
        try:
            self.monitor.resize(rows, cols)  # type: ignore[arg-type]
        except (ValueError, OSError) as e:
            raise RequestError(str(e)) from None
        return {"ok": True}

    def _op_pause(self, conn: Connection, request: dict) -> dict:
        return self._pause(True)

    def _op_resume(self, conn: Connection, request: dict) -> dict:
        return self._pause(False)

    def _pause(self, paused: bool) -> dict:
        try:
            self.monitor.set_paused(paused)
        except (ProcessLookupError, RuntimeCallError) as e:
            raise RequestError(str(e)) from None
        return {"ok": True}

    def _op_shutdown(self, conn: Connection, request: dict) -> dict:
        if self.monitor.phase != "done":
            raise RequestError("the container is still running or will restart; stop it first")
        return {"ok": True}


def _signal_arg(request: dict, default: int) -> int:
    value = request.get("signal")
    if value is None or value == "":
        return default
    try:
        return signal_number(value)
    except BerthError as e:
        raise RequestError(str(e)) from None


def main(argv: list[str] | None = None) -> int:
    try:
        run_dir, ready_fd, go_fd = parse_args(sys.argv[1:] if argv is None else argv)
    except ValueError as e:
        sys.stderr.write(f"berth-shim: {e}\n{USAGE}\n")
        return 2
    ready = ReadyPipe(ready_fd)
    runtime_child.prepare_start()
    if go_fd >= 0:
        try:
            go = await_go(go_fd)
        except (ValueError, OSError) as e:
            go = False
            ready.send({"ok": False, "error": f"shim: {e}", "exit_code": 125})
        if not go:
            runtime_child.discard_prepared()
            return 0
    try:
        cfg = load_config(run_dir)
        set_child_subreaper()
        shim = Shim(run_dir, cfg)
    except (BerthError, OSError) as e:
        message = f"shim: {e}"
        try:
            state = State(os.path.join(run_dir, STATE_FILE), os.getpid())
            state.finished("exited", 125, error=message)
            state.save()
        except OSError:
            pass
        ready.send({"ok": False, "error": message, "exit_code": 125})
        runtime_child.discard_prepared()
        return 1
    return shim.run(ready)
