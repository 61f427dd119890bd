"""The container init: what runs between fork and exec, as one straight sequence of named steps.

The order is DESIGN.md's: fork -> join cgroup -> join/unshare namespaces -> fork (PID 1) -> mounts
-> pivot_root -> masked/readonly paths -> hostname -> rlimits -> no_new_privs -> bounding caps ->
setgroups/setgid/setuid -> capset -> cwd -> close fds -> exec. A failing step raises ``InitError``
naming the step; the error goes to the caller as one JSON line on a close-on-exec pipe, so EOF on
that pipe means the exec succeeded.
"""
from __future__ import annotations

import errno
import json
import os
import resource
import signal
import stat
from collections.abc import Mapping, Sequence
from typing import Any, Callable, Optional

from . import caps as _caps
from . import linux, mounts
from .cgroups import Layout

NAMESPACE_FLAGS = {
    "pid": linux.CLONE_NEWPID, "network": linux.CLONE_NEWNET, "mount": linux.CLONE_NEWNS,
    "ipc": linux.CLONE_NEWIPC, "uts": linux.CLONE_NEWUTS, "user": linux.CLONE_NEWUSER,
    "cgroup": linux.CLONE_NEWCGROUP, "time": linux.CLONE_NEWTIME,
}
#: /proc/<pid>/ns/<name> for each OCI namespace type, in the order exec joins them
PROC_NS_NAMES = (("user", "user"), ("ipc", "ipc"), ("uts", "uts"), ("network", "net"),
                 ("pid", "pid"), ("cgroup", "cgroup"), ("mount", "mnt"))
EXIT_NOT_FOUND = 127
EXIT_NOT_EXECUTABLE = 126
EXIT_INIT_FAILED = 125


class InitError(Exception):
    def __init__(self, step: str, message: str, exit_code: int = EXIT_INIT_FAILED) -> None:
        super().__init__(f"{step}: {message}")
        self.step = step
        self.message = message
        self.exit_code = exit_code


class InitConfig:
    """Everything the forked children need, computed by the caller before fork."""

    def __init__(self, process: Mapping[str, Any], stdio: Sequence[int]) -> None:
        self.process = process
        self.stdio = tuple(stdio)
        self.rootfs = ""
        self.spec: Mapping[str, Any] = {}
        self.cgroup_dirs: list[str] = []
        self.join: list[tuple[str, str]] = []  # (OCI type, namespace file), user first
        self.unshare_flags = 0
        self.new_user_ns = False
        self.new_uts_ns = False
        self.layout: Optional[Layout] = None
        self.console_slave: Optional[int] = None
        self.console_path: Optional[str] = None
        self.err_fd = -1
        self.msg_fd = -1
        self.go_fd = -1


def step(name: str, fn: Callable[..., Any], *args: Any) -> Any:
    try:
        return fn(*args)
    except InitError:
        raise
    except OSError as e:
        message = f"{e.strerror}: {e.filename}" if e.filename else (e.strerror or str(e))
        raise InitError(name, message) from None
    except Exception as e:  # noqa: BLE001 - every failure must reach the caller as one line
        raise InitError(name, str(e) or type(e).__name__) from None


def report(fd: int, err: BaseException) -> int:
    """Send ``err`` to the caller; return the exit code the failing process should use."""
    if isinstance(err, InitError):
        payload = {"step": err.step, "message": err.message, "exit_code": err.exit_code}
    else:
        payload = {"step": "init", "message": f"{type(err).__name__}: {err}",
                   "exit_code": EXIT_INIT_FAILED}
    try:
        os.write(fd, json.dumps(payload).encode() + b"\n")
    except OSError:
        pass
    return payload["exit_code"]


# --- steps run by the intermediate process (host pid namespace) --------------------------------

def join_cgroup(dirs: Sequence[str]) -> None:
    pid = str(os.getpid()).encode()
    for d in dirs:
        fd = os.open(d + "/cgroup.procs", os.O_WRONLY | os.O_CLOEXEC)
        try:
            os.write(fd, pid)
        finally:
            os.close(fd)


def join_namespaces(join: Sequence[tuple[str, str]]) -> None:
    fds = [(ns_type, os.open(path, os.O_RDONLY | os.O_CLOEXEC)) for ns_type, path in join]
    try:
        for ns_type, fd in fds:
            linux.setns(fd, NAMESPACE_FLAGS[ns_type])
    finally:
        for _ns_type, fd in fds:
            os.close(fd)


def unshare_user(msg_fd: int, go_fd: int) -> None:
    linux.unshare(linux.CLONE_NEWUSER)
    os.write(msg_fd, b"user\n")  # the caller writes our uid/gid maps, then answers
    if os.read(go_fd, 1) != b"g":
        raise OSError(errno.EIO, "the caller did not write the id maps")
    os.setresgid(0, 0, 0)
    os.setresuid(0, 0, 0)


def intermediate(cfg: InitConfig, fork_child: Callable[[], None]) -> int:
    """First child: join the cgroup and namespaces, unshare, fork PID 1, report its pid."""
    try:
        step("join cgroup", join_cgroup, cfg.cgroup_dirs)
        step("join namespaces", join_namespaces, cfg.join)
        if cfg.new_user_ns:
            step("user namespace", unshare_user, cfg.msg_fd, cfg.go_fd)
        if cfg.unshare_flags:
            step("unshare", linux.unshare, cfg.unshare_flags)
        pid = step("fork", os.fork)
    except BaseException as e:  # noqa: BLE001
        return report(cfg.err_fd, e)
    if pid == 0:
        code = EXIT_INIT_FAILED
        try:
            os.close(cfg.msg_fd)
            fork_child()
        except BaseException as e:  # noqa: BLE001
            code = report(cfg.err_fd, e)
        finally:
            os._exit(code)
    os.write(cfg.msg_fd, f"pid {pid}\n".encode())
    return 0


# --- PID 1 --------------------------------------------------------------------------------------

def container_init(cfg: InitConfig) -> None:
    spec = cfg.spec
    linux_cfg = spec.get("linux") or {}
    rootfs = cfg.rootfs
    step("session", setup_session, cfg)
    step("stdio", setup_stdio, cfg)
    step("rootfs propagation", linux.mount, None, "/", None,
         mounts.parse_options([linux_cfg.get("rootfsPropagation") or "rslave"])[1])
    step("bind rootfs", linux.mount, rootfs, rootfs, None, linux.MS_BIND | linux.MS_REC)
    for m in spec.get("mounts") or ():
        step(f"mount {m['destination']}", mounts.mount_one, rootfs, m, cfg.layout,
             cfg.cgroup_dirs)
    step("devices", mounts.create_devices, rootfs, linux_cfg.get("devices") or (), cfg.new_user_ns)
    step("dev symlinks", mounts.dev_symlinks, rootfs)
    if cfg.console_path:
        step("console", mounts.bind_console, rootfs, cfg.console_path)
    step("workdir", make_workdir, rootfs, cfg.process.get("cwd") or "/")
    step("pivot_root", mounts.pivot_root, rootfs)
    if (spec.get("root") or {}).get("readonly"):
        step("readonly rootfs", mounts.remount_root_readonly)
    for path in linux_cfg.get("maskedPaths") or ():
        step(f"masked path {path}", mounts.mask_path, path)
    for path in linux_cfg.get("readonlyPaths") or ():
        step(f"readonly path {path}", mounts.readonly_path, path)
    if cfg.new_uts_ns and spec.get("hostname"):
        step("hostname", linux.sethostname, spec["hostname"])
    for key, value in (linux_cfg.get("sysctl") or {}).items():
        step(f"sysctl {key}", write_sysctl, key, value)
    start_process(cfg)


def setup_session(cfg: InitConfig) -> None:
    os.setsid()
    if cfg.console_slave is not None:
        import fcntl
        import termios
        fcntl.ioctl(cfg.console_slave, termios.TIOCSCTTY, 0)


def setup_stdio(cfg: InitConfig) -> None:
    fds = (cfg.console_slave,) * 3 if cfg.console_slave is not None else cfg.stdio
    copies = [os.dup(fd) for fd in fds]  # so that e.g. stdin=1, stdout=0 cannot clobber each other
    for target, fd in enumerate(copies):
        os.dup2(fd, target, inheritable=True)
        os.close(fd)


def make_workdir(rootfs: str, cwd: str) -> None:
    path = mounts.secure_join(rootfs, cwd)
    if not os.path.isdir(path):
        os.makedirs(path, 0o755)


def write_sysctl(key: str, value: str) -> None:
    with open("/proc/sys/" + key.replace(".", "/"), "w") as f:
        f.write(str(value))


# --- the process itself (PID 1 and exec'd processes) --------------------------------------------

def start_process(cfg: InitConfig) -> None:
    process = cfg.process
    user = process.get("user") or {}
    capabilities = process.get("capabilities") or {}
    step("signals", reset_signals)
    step("rlimits", set_rlimits, process.get("rlimits") or ())
    if process.get("noNewPrivileges"):
        step("no_new_privs", linux.set_no_new_privs)
    step("bounding caps", drop_bounding, capabilities.get("bounding") or ())
    step("user", set_user, user)
    step("capabilities", set_capabilities, capabilities)
    step("cwd", os.chdir, process.get("cwd") or "/")
    step("close fds", close_fds, cfg.err_fd)
    env = env_dict(process.get("env") or ())
    args = list(process.get("args") or ())
    path = step("find executable", find_executable, args[0] if args else "", env.get("PATH", ""))
    exec_process(path, args, env)


def reset_signals() -> None:
    for sig in (signal.SIGPIPE, signal.SIGXFSZ, signal.SIGINT, signal.SIGTERM, signal.SIGCHLD):
        signal.signal(sig, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_SETMASK, [])


def set_rlimits(rlimits: Sequence[Mapping[str, Any]]) -> None:
    for rl in rlimits:
        number = getattr(resource, rl["type"], None)
        if number is None:
            raise ValueError(f"unknown rlimit {rl['type']}")
        try:
            resource.setrlimit(number, (int(rl["soft"]), int(rl["hard"])))
        except (OSError, ValueError) as e:
            raise OSError(getattr(e, "errno", errno.EPERM) or errno.EPERM,
                          f"{rl['type']} soft={rl['soft']} hard={rl['hard']}: {e}") from None


def drop_bounding(keep: Sequence[str]) -> None:
    keep_mask = _caps.to_mask(keep)
    for number in range(_caps.last_cap() + 1):
        if not keep_mask >> number & 1:
            linux.capbset_drop(number)


def set_user(user: Mapping[str, Any]) -> None:
    uid, gid = int(user.get("uid", 0)), int(user.get("gid", 0))
    if "umask" in user:
        os.umask(int(user["umask"]))
    groups = [int(g) for g in user.get("additionalGids") or ()]
    if _setgroups_allowed():
        os.setgroups(groups)
    if uid != 0:
        linux.prctl(linux.PR_SET_KEEPCAPS, 1)  # keep permitted caps across setuid; capset follows
    os.setresgid(gid, gid, gid)
    os.setresuid(uid, uid, uid)


def _setgroups_allowed() -> bool:
    try:
        with open("/proc/self/setgroups") as f:
            return f.read().strip() != "deny"
    except OSError:
        return True


def set_capabilities(capabilities: Mapping[str, Sequence[str]]) -> None:
    linux.capset(_caps.to_mask(capabilities.get("effective") or ()),
                 _caps.to_mask(capabilities.get("permitted") or ()),
                 _caps.to_mask(capabilities.get("inheritable") or ()))
    ambient = capabilities.get("ambient") or ()
    if ambient:
        linux.ambient_clear()
        for name in ambient:
            if name in _caps.CAP_NUMBERS:
                linux.ambient_raise(_caps.CAP_NUMBERS[name])


def close_fds(keep: int) -> None:
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2 and fd != keep:
            try:
                os.close(fd)
            except OSError:
                pass


def env_dict(env: Sequence[str]) -> dict[str, str]:
    out = {}
    for item in env:
        key, sep, value = item.partition("=")
        if sep and key:
            out[key] = value
    return out


def find_executable(name: str, path_var: str) -> str:
    if not name:
        raise InitError("find executable", "no command given", EXIT_NOT_FOUND)
    if "/" in name:
        candidates = [name]
    else:
        candidates = [os.path.join(d or ".", name) for d in path_var.split(":")]
    found_not_executable = None
    for candidate in candidates:
        try:
            st = os.stat(candidate)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode) and os.access(candidate, os.X_OK):
            return candidate
        found_not_executable = found_not_executable or candidate
    if found_not_executable:
        raise InitError("find executable", f"{found_not_executable}: permission denied "
                        "(not an executable file)", EXIT_NOT_EXECUTABLE)
    where = "" if "/" in name else " in $PATH"
    raise InitError("find executable", f"{name}: executable file not found{where}", EXIT_NOT_FOUND)


def exec_process(path: str, args: Sequence[str], env: Mapping[str, str]) -> None:
    try:
        os.execve(path, list(args), dict(env))
    except OSError as e:
        code = EXIT_NOT_FOUND if e.errno == errno.ENOENT else EXIT_NOT_EXECUTABLE
        raise InitError("exec", f"{path}: {e.strerror}", code) from None
