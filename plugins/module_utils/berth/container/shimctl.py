"""Talking to a container's ``berth-shim`` (docs/design/shim.md): launch it, read its ready line,
send control requests on ``shim.sock`` and read ``state.json``."""
from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from typing import Any, Optional

from ..errors import BerthError
from ..shim.command import GO, shim_command
from ..shim.exit_hook import process_identity
from .layout import ContainerPaths, write_atomic

READY_TIMEOUT = 120.0  # a guard against a hung shim, not a speed expectation
SHIM_MODULE = (__package__ or "berth.container").rsplit(".", 1)[0] + ".shim"
EXIT_HOOK_MODULE = (__package__ or "berth.container") + ".hooks"


class ShimError(BerthError):
    """The shim could not be reached or refused a request."""


class StartFailed(BerthError):
    """The container's first start failed; ``exit_code`` is Docker's 125/126/127."""

    def __init__(self, message: str, exit_code: int = 125) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def exit_hook(cid: str, root: str, run: str, released_by_caller: bool = False) -> dict[str, Any]:
    """shim.json's ``on_exit`` and ``on_exit_env``: after the container's final exit the shim
    starts ``python -m berth.container.hooks exited <id>`` (hooks.py), which releases the run.
    ``released_by_caller``: this process (a foreground ``run``) releases the run itself after
    the exit, so the shim skips the hook while this process still runs."""
    settings: dict[str, Any] = {"on_exit": [sys.executable, "-m", EXIT_HOOK_MODULE, "exited", cid],
                                "on_exit_env": {"BERTH_ROOT": root, "BERTH_RUN": run}}
    if released_by_caller:
        settings["released_by"] = process_identity(os.getpid())
    return settings


def write_shim_json(paths: ContainerPaths, config: Mapping[str, Any]) -> None:
    os.makedirs(paths.run_dir, 0o700, exist_ok=True)
    write_atomic(paths.shim_json, json.dumps(dict(config), indent=1).encode(), 0o600)


class PendingShim:
    """A shim started before its container is ready to start: its interpreter, its imports and
    the runtime child of the first start load on another CPU while the caller mounts the rootfs,
    wires the network and writes the bundle. ``go`` lets it start the container and waits for
    the outcome of the first start; ``discard`` (the start failed before that) lets it exit
    unused."""

    def __init__(self, paths: ContainerPaths) -> None:
        ready_r, ready_w = os.pipe()
        go_r, go_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                shim_command(paths.run_dir, ready_w, go_r), stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, pass_fds=(ready_w, go_r),
                start_new_session=True, close_fds=True)
        except OSError as e:
            os.close(ready_r)
            os.close(go_w)
            raise StartFailed(f"cannot launch the shim: {e.strerror}") from None
        finally:
            os.close(ready_w)
            os.close(go_r)
        self.ready_r, self.go_w = ready_r, go_w

    def go(self) -> dict[str, Any]:
        """Start the container, its shim.json and bundle written; return the ready message
        (``{"ok": true, "pid": N}``) or raise StartFailed."""
        try:
            try:
                os.write(self.go_w, GO + b"\n")
            except OSError:
                pass  # the shim is gone: the ready pipe's EOF says so below
            finally:
                self._close("go_w")
            line = _read_line(self.ready_r, READY_TIMEOUT)
        finally:
            self._close("ready_r")
        if not line:
            code = _poll(self.proc)
            raise StartFailed("the shim exited before reporting the container's start"
                              + (f" (exit status {code})" if code is not None else ""))
        try:
            msg = json.loads(line)
        except ValueError:
            raise StartFailed(f"unreadable ready message from the shim: {line[:200]!r}") from None
        if not msg.get("ok"):
            raise StartFailed(str(msg.get("error") or "the container failed to start"),
                              int(msg.get("exit_code") or 125))
        return msg

    def discard(self) -> None:
        """Before ``go``: close the go pipe; the shim reads EOF and exits without a trace."""
        self._close("go_w")
        self._close("ready_r")

    def _close(self, name: str) -> None:
        fd = getattr(self, name)
        if fd >= 0:
            setattr(self, name, -1)
            os.close(fd)


def _poll(proc: subprocess.Popen) -> Optional[int]:
    try:
        _pid, status = os.waitpid(proc.pid, os.WNOHANG)
    except ChildProcessError:
        return None
    return os.waitstatus_to_exitcode(status) if status else None


def _read_line(fd: int, timeout: float) -> bytes:
    data = b""
    deadline = time.monotonic() + timeout
    while b"\n" not in data:
        left = deadline - time.monotonic()
        if left <= 0:
            raise StartFailed("the shim did not report the container's start in time")
        ready, _writable, _failed = select.select([fd], [], [], left)
        if not ready:
            continue
        chunk = os.read(fd, 4096)
        if not chunk:
            break
        data += chunk
    return data.split(b"\n", 1)[0].strip()


def read_state(paths: ContainerPaths) -> Optional[dict[str, Any]]:
    try:
        with open(paths.state_json) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def shim_alive(pid: int) -> bool:
    """Is ``pid`` a live berth-shim (and not a recycled pid of something else)?"""
    if not pid or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            cmdline = f.read()
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat_line = f.read()
    except OSError:
        return False
    if stat_line.rsplit(b")", 1)[-1].split()[0] == b"Z":
        return False
    return SHIM_MODULE.encode() in cmdline or b"berth-shim" in cmdline or b"berth.shim" in cmdline


def connect(paths: ContainerPaths, timeout: Optional[float] = 10.0) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(paths.socket)
    except OSError as e:
        sock.close()
        raise ShimError(f"cannot reach the shim of container {paths.id[:12]}: "
                        f"{e.strerror or e}") from None
    return sock


def _send(sock: socket.socket, paths: ContainerPaths, payload: Mapping[str, Any]) -> None:
    try:
        sock.sendall(json.dumps(dict(payload)).encode() + b"\n")
    except OSError as e:
        raise ShimError(f"the shim of container {paths.id[:12]} went away: "
                        f"{e.strerror or e}") from None


def _parse_reply(data: bytes, op: Any) -> dict[str, Any]:
    """The first line of ``data`` as a reply; ShimError if unreadable or ``{"ok": false}``."""
    try:
        reply = json.loads(data.split(b"\n", 1)[0])
    except ValueError:
        raise ShimError(f"unreadable reply from the shim: {data[:200]!r}") from None
    if not isinstance(reply, dict) or not reply.get("ok"):
        raise ShimError(str(isinstance(reply, dict) and reply.get("error")
                            or f"the shim refused {op!r}"))
    return reply


def request(paths: ContainerPaths, payload: Mapping[str, Any],
            timeout: Optional[float] = 30.0) -> dict[str, Any]:
    """One request, one reply line; raises ShimError for ``{"ok": false}``."""
    with connect(paths, timeout) as sock:
        _send(sock, paths, payload)
        data = b""
        while b"\n" not in data:
            try:
                chunk = sock.recv(65536)
            except socket.timeout:
                raise ShimError(f"the shim of container {paths.id[:12]} did not answer "
                                f"{payload.get('op')!r}") from None
            except OSError as e:  # e.g. reset: the shim exited while we asked
                raise ShimError(f"the shim of container {paths.id[:12]} went away: "
                                f"{e.strerror or e}") from None
            if not chunk:
                break
            data += chunk
    if not data.strip():
        raise ShimError(f"the shim of container {paths.id[:12]} closed the connection")
    return _parse_reply(data, payload.get("op"))


def open_wait(paths: ContainerPaths) -> socket.socket:
    """A connection that becomes readable once the container has exited for good (no restart
    follows; the final state.json is written and the log is complete); ``wait_reply`` reads
    the state then. Raises ShimError when no shim answers: state.json is already final."""
    sock = connect(paths, 10)
    try:
        _send(sock, paths, {"op": "wait"})
    except ShimError:
        sock.close()
        raise
    sock.settimeout(None)
    return sock


def wait_reply(sock: socket.socket) -> Optional[dict[str, Any]]:
    """Block for the reply to ``open_wait``'s request: the final state's fields, or None when
    the shim closed the connection without one (it died; the service's reconcile tells the
    rest). Raises ShimError when the shim refused (one older than the ``wait`` op)."""
    data = b""
    while not data.endswith(b"\n"):
        try:
            chunk = sock.recv(65536)
        except OSError:
            return None
        if not chunk:
            return None
        data += chunk
    return _parse_reply(data, "wait")


def open_attach(paths: ContainerPaths, stdin: bool) -> socket.socket:
    """A connection that has become the container's raw output (and input) stream; raises
    ShimError when the shim refuses (e.g. the container has already exited)."""
    sock = connect(paths, 30)
    try:
        sock.sendall(json.dumps({"op": "attach", "stdin": bool(stdin)}).encode() + b"\n")
        line = b""
        while not line.endswith(b"\n"):  # byte by byte: what follows the reply is the stream
            ch = sock.recv(1)
            if not ch:
                break
            line += ch
        reply = json.loads(line or b"{}")
        if not reply.get("ok"):
            raise ShimError(str(reply.get("error") or "attach refused"))
    except (OSError, ValueError) as e:
        sock.close()
        raise ShimError(f"cannot attach to container {paths.id[:12]}: {e}") from None
    except ShimError:
        sock.close()
        raise
    sock.settimeout(None)
    return sock


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    """Wait until the shim ``pid`` has exited; False if it is still alive after ``timeout``."""
    deadline = time.monotonic() + timeout
    if shim_alive(pid):
        _wait_exit_event(pid, timeout)
    while shim_alive(pid):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.005)
    return True


def _wait_exit_event(pid: int, timeout: float) -> None:
    """Sleep until ``pid`` exits (a pidfd becomes readable then: no polling delay) or
    ``timeout``; returns at once where pidfds are missing (Linux < 5.3), and the caller polls."""
    try:
        pidfd = os.pidfd_open(pid)  # type: ignore[attr-defined]
    except (AttributeError, OSError):
        return
    try:
        select.select([pidfd], [], [], timeout)
    except (OSError, ValueError):
        pass  # the caller polls
    finally:
        os.close(pidfd)
