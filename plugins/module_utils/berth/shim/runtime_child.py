"""Runtime calls made in a short-lived forked child, the way containerd's shim runs runc.

The shim itself never imports ``berth.runtime``: ctypes, the container init and the cgroup
backends would add ~4 MB to every idle shim. Each call forks a child that imports the runtime,
receives the call over a socketpair (with the descriptors it needs), makes it, sends the result
back (with the pty master for a tty) and exits. The child for the first start is forked as the
shim boots (``prepare_start``), so its import overlaps the shim's own start-up.
For ``start`` the child makes itself a child subreaper, as the runtime requires; PID 1 is
reparented to it and, when it exits, to the shim: the kernel hands orphans to the nearest living
subreaper ancestor.

The cleanup after each exit is on the critical path of ``run --rm`` (the exit is not final until
it is done), and a second fork + import of the runtime costs 30-70 ms. So for berth's own runtime
the start child also reports the container's cgroup directories and its OOM counter file
(``CgroupPlan``); the shim then reads the counter and removes the empty directories itself with
plain ``os.rmdir``. Anything unusual (processes left, a nested group, an error) falls back to the
runtime's ``delete`` in a child, which kills what is left and waits for the group to empty.
"""
from __future__ import annotations

import json
import os
import signal
import socket

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~1 MB of RSS; the shim must stay small
    from typing import Any, Iterable

EXIT_INIT_FAILED = 125


class RuntimeCallError(Exception):
    """The runtime refused; ``exit_code`` is Docker's (125 engine, 126 not executable, 127 not
    found)."""

    def __init__(self, message: str, exit_code: int = EXIT_INIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


class CgroupPlan:
    """What the shim needs to remove a berth container's cgroup without the runtime: its
    directories (one per hierarchy) and the flat-keyed file whose ``oom_kill`` counts OOM kills
    (v1 ``memory.oom_control``, v2 ``memory.events``; None without a memory controller)."""

    def __init__(self, dirs: list[str], oom_file: str | None) -> None:
        self.dirs = dirs
        self.oom_file = oom_file

    @classmethod
    def from_reply(cls, value: object) -> CgroupPlan | None:
        if not isinstance(value, dict):
            return None
        dirs, oom_file = value.get("dirs"), value.get("oom_file")
        if not isinstance(dirs, list) or not all(isinstance(d, str) and d for d in dirs):
            return None
        return cls(dirs, oom_file if isinstance(oom_file, str) else None)


def prepare_start() -> None:
    """Fork the child for the first ``start`` now: it imports the runtime while the shim loads
    its configuration (or waits for its launcher's go), so the start itself pays only the call."""
    global _warm
    if _warm is None:
        _warm = RuntimeChild()


def discard_prepared() -> None:
    global _warm
    if _warm is not None:
        _warm.discard()
        _warm = None


def start(bundle: str, runtime: str, stdio: tuple[int, int, int],
          console: bool) -> tuple[int, int | None, CgroupPlan | None]:
    """Start the bundle's process; return (host pid of PID 1, pty master fd or None, the plan
    for removing its cgroup in the shim or None when only the runtime can clean up)."""
    global _warm
    child, _warm = (_warm or RuntimeChild()), None
    reply, fds = child.call("start", {"bundle": bundle, "runtime": runtime, "console": console},
                            stdio)
    if console and not fds:
        raise RuntimeCallError("the runtime returned no console")
    return int(reply["pid"]), (fds[0] if fds else None), CgroupPlan.from_reply(reply.get("cgroup"))


def cleanup(bundle: str, runtime: str, plan: CgroupPlan | None = None) -> bool:
    """After PID 1 exited: kill what is left, remove the cgroup; return whether the kernel's OOM
    killer struck in it. With a ``plan``, an empty cgroup is removed here, without a child."""
    oom_killed = False
    if plan is not None:
        done, oom_killed = remove_empty_cgroup(plan)
        if done:
            return oom_killed
    reply, _fds = RuntimeChild().call("cleanup", {"bundle": bundle, "runtime": runtime})
    return oom_killed or bool(reply.get("oom_killed"))


def remove_empty_cgroup(plan: CgroupPlan) -> tuple[bool, bool]:
    """Remove the plan's directories if no process is left in them: (done, whether the OOM
    killer struck). Not done (processes left, a nested group, an error): the runtime's
    ``delete`` must finish the job."""
    for d in plan.dirs:
        try:
            if _read_small(os.path.join(d, "cgroup.procs")).strip():
                return False, False  # leftovers to kill first
        except FileNotFoundError:
            continue  # removed already (e.g. by the service's own delete)
        except OSError:
            return False, False
    oom_killed = _oom_kills(plan.oom_file) > 0  # read while the group still exists
    for d in plan.dirs:
        try:
            os.rmdir(d)
        except FileNotFoundError:
            pass
        except OSError:  # EBUSY (a task still exiting) or ENOTEMPTY (a nested group)
            return False, oom_killed
    return True, oom_killed


def _read_small(path: str) -> bytes:
    """One read of a small pseudo-file (cgroupfs files are generated whole on the first read)."""
    fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        return os.read(fd, 65536)
    finally:
        os.close(fd)


def _oom_kills(path: str | None) -> int:
    if not path:
        return 0
    try:
        for line in _read_small(path).splitlines():
            key, _sep, value = line.partition(b" ")
            if key == b"oom_kill":
                return int(value)
    except (OSError, ValueError):
        pass  # no such counter (an old kernel): nothing to report, like the runtime's stats
    return 0


def set_frozen(bundle: str, frozen: bool) -> None:
    RuntimeChild().call("freeze" if frozen else "thaw", {"bundle": bundle})


class RuntimeChild:
    """A forked child that imports the runtime at once, then makes the one call it is sent over
    its socket (the descriptors it needs, e.g. PID 1's stdio, travel with the request)."""

    def __init__(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            pid = os.fork()
        except BaseException:
            ours.close()
            theirs.close()
            raise
        if pid == 0:  # pragma: no cover - runs in the child
            _child_main(theirs, ours)
        theirs.close()
        self.pid, self.sock = pid, ours

    def call(self, op: str, args: dict, fds: Iterable[int] = ()) -> tuple[dict, list[int]]:
        raw, received = b"", []
        try:
            payload = json.dumps({"op": op, "args": args}).encode()
            fds = list(fds)
            if fds:
                socket.send_fds(self.sock, [payload], fds)
            else:
                self.sock.sendall(payload)
            self.sock.shutdown(socket.SHUT_WR)
            raw, received = _receive(self.sock)
        except OSError:
            pass  # the child died: reported below as a call without an answer
        finally:
            self.discard()
        try:
            reply = json.loads(raw)
        except ValueError:
            reply = {"ok": False, "error": f"runtime call {op} died without an answer"}
        if not reply.get("ok"):
            for fd in received:
                os.close(fd)
            raise RuntimeCallError(str(reply.get("error") or f"runtime call {op} failed"),
                                   int(reply.get("exit_code") or EXIT_INIT_FAILED))
        return reply, received

    def discard(self) -> None:
        """Close the socket (an idle child then exits) and reap the child."""
        self.sock.close()
        if self.pid:
            os.waitpid(self.pid, 0)
            self.pid = 0


_warm: RuntimeChild | None = None


def _receive(sock: socket.socket) -> tuple[bytes, list[int]]:
    chunks: list[bytes] = []
    fds: list[int] = []
    while True:
        data, new_fds, _flags, _peer = socket.recv_fds(sock, 65536, 4)
        for fd in new_fds:
            os.set_inheritable(fd, False)
        fds += new_fds
        if not data:
            return b"".join(chunks), fds
        chunks.append(data)


def _child_main(sock: socket.socket, other: socket.socket) -> None:  # pragma: no cover - child
    try:
        signal.set_wakeup_fd(-1)  # the shim's signal pipe is not ours
        for sig in (signal.SIGCHLD, signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(sig, signal.SIG_DFL)
        other.close()
        _close_fds_except({sock.fileno()})
        from .. import runtime  # noqa: F401 - imported before the request comes: the warm part
        raw, fds = _receive(sock)
        if not raw:
            return  # discarded unused
        try:
            request = json.loads(raw)
            reply, out_fds = _perform(request["op"], request["args"], fds)
            reply["ok"] = True
        except BaseException as e:  # noqa: BLE001 - every failure goes back as one line
            reply, out_fds = {"ok": False, "error": str(e) or type(e).__name__,
                              "exit_code": int(getattr(e, "exit_code", EXIT_INIT_FAILED))}, []
        payload = json.dumps(reply).encode()
        if out_fds:
            socket.send_fds(sock, [payload], out_fds)
        else:
            sock.sendall(payload)
    finally:
        os._exit(0)


def _close_fds_except(keep: set) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass


def _perform(op: str, args: dict,
             fds: list[int]) -> tuple[dict[str, Any], list[int]]:  # pragma: no cover - child
    from .. import runtime as rt

    if op == "start":
        if len(fds) != 3:
            raise ValueError("the start call needs PID 1's three stdio descriptors")
        rt.set_child_subreaper()
        started = rt.runtime_for(args["runtime"]).start(args["bundle"], *fds,
                                                        console=args["console"])
        reply: dict[str, Any] = {"pid": started.pid}
        if args["runtime"] in ("berth", "", None):
            reply["cgroup"] = _cgroup_plan(rt, args["bundle"])
        return reply, ([started.console_fd] if started.console_fd is not None else [])
    if op == "cleanup":
        oom_killed = False
        try:
            cgroup = rt.container_cgroup(args["bundle"])
            if cgroup is not None and cgroup.exists():
                oom_killed = bool(cgroup.stats().get("oom_kills"))
        except (rt.CgroupError, OSError):
            pass  # no memory controller: nothing to report
        rt.runtime_for(args["runtime"]).delete(args["bundle"], force=True)
        return {"oom_killed": oom_killed}, []
    if op in ("freeze", "thaw"):
        cgroup = rt.container_cgroup(args["bundle"])
        if cgroup is None:
            raise rt.CgroupError("the container has no cgroup to freeze")
        cgroup.freeze() if op == "freeze" else cgroup.thaw()
        return {}, []
    raise ValueError(f"unknown runtime call {op!r}")


def _cgroup_plan(rt: Any, bundle: str) -> dict[str, Any] | None:  # pragma: no cover - child
    """The CgroupPlan of the container just started (None: no cgroup, or its layout unknown)."""
    try:
        cgroup = rt.container_cgroup(bundle)
    except Exception:  # noqa: BLE001 - the cleanup then goes through the runtime, as before
        return None
    if cgroup is None:
        return None
    if cgroup.v1 is not None:  # v1 or hybrid: the memory hierarchy holds the counter
        memdir = cgroup.v1.by_controller.get("memory")
        oom_file = os.path.join(memdir, "memory.oom_control") if memdir else None
    elif cgroup.v2 is not None:
        oom_file = os.path.join(cgroup.v2.dir, "memory.events")
    else:
        return None
    return {"dirs": cgroup.directories(), "oom_file": oom_file}
