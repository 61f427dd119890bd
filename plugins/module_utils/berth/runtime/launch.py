"""berth's own OCI runtime: run a bundle, exec into a running container, delete a bundle's state.

``start`` forks an intermediate process that joins the cgroup and namespaces, unshares, forks the
container's PID 1, reports its pid and exits. PID 1 is then reparented to the caller, which must be
a child subreaper (the per-container shim is) and reaps it with ``os.waitpid``.
"""
from __future__ import annotations

import json
import os
import signal
from collections.abc import Mapping, Sequence
from typing import Any, Callable, NamedTuple, Optional

from ..errors import BerthError, Conflict, InvalidArgument, NotFound
from . import init, linux
from .cgroups import Cgroup, CgroupError, detect, directories_of


class Started(NamedTuple):
    pid: int
    console_fd: Optional[int]


class StartError(BerthError):
    """The container process could not be started; ``step`` names the init step that failed.

    ``exit_code`` follows Docker: 127 command not found, 126 not executable, 125 anything else.
    """

    def __init__(self, message: str, exit_code: int = init.EXIT_INIT_FAILED,
                 step: Optional[str] = None) -> None:
        super().__init__(message)
        self.exit_code = exit_code
        self.step = step


def load_spec(bundle_dir: str) -> dict[str, Any]:
    try:
        with open(os.path.join(bundle_dir, "config.json")) as f:
            spec = json.load(f)
    except FileNotFoundError:
        raise NotFound(f"no config.json in bundle {bundle_dir}") from None
    except ValueError as e:
        raise InvalidArgument(f"invalid config.json in bundle {bundle_dir}: {e}") from None
    if not isinstance(spec, dict) or not isinstance(spec.get("process"), dict):
        raise InvalidArgument(f"config.json in bundle {bundle_dir} has no process")
    return spec


def rootfs_of(bundle_dir: str, spec: Mapping[str, Any]) -> str:
    path = (spec.get("root") or {}).get("path") or "rootfs"
    path = os.path.realpath(os.path.join(bundle_dir, path))
    if not os.path.isdir(path):
        raise NotFound(f"root filesystem {path} does not exist")
    return path


def container_cgroup(bundle_dir: str) -> Optional[Cgroup]:
    """The bundle's cgroup (for freeze/thaw/stats/kill_all), or None if the spec names none."""
    path = ((load_spec(bundle_dir).get("linux") or {}).get("cgroupsPath"))
    return Cgroup(path) if path else None


def _require_subreaper() -> None:
    if not linux.is_child_subreaper():
        raise InvalidArgument("the caller must be a child subreaper (PR_SET_CHILD_SUBREAPER) "
                              "to receive the container's PID 1")


def start(bundle_dir: str, stdin: int, stdout: int, stderr: int,
          console: bool = False) -> Started:
    """Run the bundle's process as PID 1 of a new container; return its host pid."""
    spec = load_spec(bundle_dir)
    _require_subreaper()
    linux_cfg = spec.get("linux") or {}
    cfg = init.InitConfig(spec["process"], (stdin, stdout, stderr))
    cfg.spec = spec
    cfg.rootfs = rootfs_of(bundle_dir, spec)
    cfg.layout = detect()
    _plan_namespaces(cfg, linux_cfg.get("namespaces") or ())
    id_maps = (linux_cfg.get("uidMappings") or [], linux_cfg.get("gidMappings") or [])
    if cfg.new_user_ns and not (id_maps[0] and id_maps[1]):
        raise InvalidArgument("a new user namespace needs uidMappings and gidMappings")
    cgroup = None
    if linux_cfg.get("cgroupsPath"):
        try:
            cgroup = Cgroup.create(linux_cfg["cgroupsPath"], linux_cfg.get("resources") or {},
                                   cfg.layout)
        except CgroupError as e:
            raise StartError(str(e)) from None
        cfg.cgroup_dirs = cgroup.directories()
    master = None
    try:
        if console:
            master, cfg.console_slave = os.openpty()
            cfg.console_path = os.ttyname(cfg.console_slave)
        pid = _spawn(cfg, lambda: init.container_init(cfg), id_maps)
    except BaseException:
        if master is not None:
            os.close(master)
        if cgroup is not None:
            try:
                cgroup.kill_all(signal.SIGKILL)
                cgroup.destroy()
            except (CgroupError, OSError):
                pass  # the start error below is the one worth reporting
        raise
    finally:
        if cfg.console_slave is not None:
            os.close(cfg.console_slave)
    return Started(pid, master)


def _plan_namespaces(cfg: init.InitConfig, namespaces: Sequence[Mapping[str, str]]) -> None:
    for ns in namespaces:
        ns_type = ns.get("type", "")
        if ns_type not in init.NAMESPACE_FLAGS:
            raise InvalidArgument(f"unknown namespace type {ns_type!r}")
        if ns.get("path"):
            # the user namespace first: it decides what the others may be joined with
            position = 0 if ns_type == "user" else len(cfg.join)
            cfg.join.insert(position, (ns_type, ns["path"]))
        elif ns_type == "user":
            cfg.new_user_ns = True
        else:
            cfg.unshare_flags |= init.NAMESPACE_FLAGS[ns_type]
            cfg.new_uts_ns = cfg.new_uts_ns or ns_type == "uts"


def exec_in(pid: int, process: Mapping[str, Any], stdin: int, stdout: int, stderr: int,
            console: bool = False) -> Started:
    """Run ``process`` (an OCI process object) inside the running container whose PID 1 is ``pid``:
    same namespaces (mount included) and cgroups; the caller reaps it like PID 1."""
    if not process.get("args"):
        raise InvalidArgument("no command given")
    _require_subreaper()
    cfg = init.InitConfig(process, (stdin, stdout, stderr))
    try:
        cfg.cgroup_dirs = directories_of(pid)
        for oci_type, name in init.PROC_NS_NAMES:
            theirs = f"/proc/{pid}/ns/{name}"
            if os.stat(theirs).st_ino != os.stat(f"/proc/self/ns/{name}").st_ino:
                cfg.join.append((oci_type, theirs))
    except FileNotFoundError:
        raise NotFound(f"no running container with pid {pid}") from None
    master = None
    try:
        if console:
            master, cfg.console_slave = os.openpty()
        child = _spawn(cfg, lambda: _exec_child(cfg), ([], []))
    except BaseException:
        if master is not None:
            os.close(master)
        raise
    finally:
        if cfg.console_slave is not None:
            os.close(cfg.console_slave)
    return Started(child, master)


def _exec_child(cfg: init.InitConfig) -> None:
    init.step("session", init.setup_session, cfg)
    init.step("stdio", init.setup_stdio, cfg)
    init.start_process(cfg)


def _spawn(cfg: init.InitConfig, child_main: Callable[[], None],
           id_maps: tuple[list, list]) -> int:
    """Fork the intermediate, serve its requests, return the host pid of the final process."""
    err_r, err_w = os.pipe()  # os.pipe() fds are close-on-exec: EOF on err_r = exec succeeded
    msg_r, msg_w = os.pipe()
    go_r, go_w = os.pipe() if cfg.new_user_ns else (-1, -1)
    cfg.err_fd, cfg.msg_fd, cfg.go_fd = err_w, msg_w, go_r
    mine = [err_r, msg_r, go_w]
    theirs = [err_w, msg_w, go_r]
    try:
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the child
            code = init.EXIT_INIT_FAILED
            try:
                for fd in mine:
                    if fd >= 0:
                        os.close(fd)
                code = init.intermediate(cfg, child_main)
            finally:
                os._exit(code)
        for fd in theirs:
            if fd >= 0:
                os.close(fd)
        theirs = []
        pid = _serve(child, msg_r, go_w, id_maps)
        os.waitpid(child, 0)
        error = _read_all(err_r)
    finally:
        for fd in mine + theirs:
            if fd >= 0:
                os.close(fd)
    if error:
        if pid is not None:
            _reap(pid)
        raise _start_error(error)
    if pid is None:
        raise StartError("container init exited without starting the process")
    return pid


def _serve(child: int, msg_r: int, go_w: int, id_maps: tuple[list, list]) -> Optional[int]:
    pid = None
    buf = b""
    while True:
        chunk = os.read(msg_r, 256)
        if not chunk:
            return pid
        buf += chunk
        while b"\n" in buf:
            line, buf = buf.split(b"\n", 1)
            if line == b"user":
                try:
                    _write_id_maps(child, *id_maps)
                    answer = b"g"
                except OSError:
                    answer = b"x"  # the child reports the failure through the error pipe
                os.write(go_w, answer)
            elif line.startswith(b"pid "):
                pid = int(line[4:])


def _write_id_maps(pid: int, uid_maps: list, gid_maps: list) -> None:
    for name, maps in (("uid_map", uid_maps), ("gid_map", gid_maps)):
        text = "".join(f"{m['containerID']} {m['hostID']} {m['size']}\n" for m in maps)
        with open(f"/proc/{pid}/{name}", "w") as f:
            f.write(text)


def _read_all(fd: int) -> bytes:
    chunks = []
    while True:
        chunk = os.read(fd, 4096)
        if not chunk:
            return b"".join(chunks)
        chunks.append(chunk)


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except ChildProcessError:
        pass


def _start_error(raw: bytes) -> StartError:
    try:
        payload = json.loads(raw.decode(errors="replace").splitlines()[0])
        return StartError(f"container init failed at step '{payload['step']}': {payload['message']}",
                          int(payload.get("exit_code", init.EXIT_INIT_FAILED)), payload["step"])
    except (ValueError, KeyError, IndexError):
        return StartError(f"container init failed: {raw[:200].decode(errors='replace')}")


def delete(bundle_dir: str, force: bool = False) -> None:
    """Remove what ``start`` left on the host: the cgroup. With ``force``, kill what still runs."""
    cgroup = container_cgroup(bundle_dir)
    if cgroup is None or not cgroup.exists():
        return
    if cgroup.pids():
        if not force:
            raise Conflict(f"container of bundle {bundle_dir} is still running")
        cgroup.kill_all(signal.SIGKILL)
    try:
        cgroup.destroy()
    except CgroupError as e:
        raise Conflict(str(e)) from None
