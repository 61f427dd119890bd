"""``on_exit`` (shim.json): the command the shim starts once the container has exited for good.

The container service uses it to give back the run's network, mounts and cgroup at once rather
than at the next berth command. The shim only starts the command: it runs in its own session
with stdio on /dev/null and is not waited for (a double fork orphans it to init; the shim reaps
only the short-lived middle child). The shim imports nothing for this but ``os``.
"""
from __future__ import annotations

import os

#: fds above stderr that the hook must not inherit are closed up to this bound (or the limit)
_FD_CEILING = 65536


def process_identity(pid: int) -> dict[str, int] | None:
    """``{"pid", "start"}``: a process and its start time (clock ticks since boot), which tell
    it apart from a later process that reuses the PID; None if there is no such process."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return None
    # the command name (field 2) may hold spaces and parentheses: count from its last ")"
    return {"pid": pid, "start": int(stat[stat.rindex(b")") + 2:].split()[19])}


def still_running(identity: dict[str, int] | None) -> bool:
    """Whether the process ``identity`` names (``process_identity``) still runs."""
    if not identity or not isinstance(identity.get("pid"), int) or identity["pid"] <= 0:
        return False
    return process_identity(identity["pid"]) == identity


def run_detached(argv: list[str], env_updates: dict[str, str]) -> bool:
    """Start ``argv`` (an absolute program path first) detached, with the shim's environment plus
    ``env_updates``. Returns whether the command was started; errors never reach the shim's
    caller (the next berth command reconciles the container anyway)."""
    if not argv:
        return False
    env = dict(os.environ)
    env.update(env_updates)
    try:
        middle = os.fork()
    except OSError:
        return False
    if middle == 0:
        status = 1
        try:
            os.setsid()
            if os.fork() == 0:
                _exec(argv, env)
            status = 0
        finally:
            os._exit(status)  # never run the shim's cleanup in a child
    return _reap(middle) == 0


def _exec(argv: list[str], env: dict[str, str]) -> None:
    """In the hook's process: stdio on /dev/null, no other fd, then exec (127 if it fails)."""
    try:
        null = os.open(os.devnull, os.O_RDWR)
        for fd in (0, 1, 2):
            os.dup2(null, fd)
        os.closerange(3, fd_limit())
        os.execve(argv[0], argv, env)
    finally:
        os._exit(127)


def fd_limit() -> int:
    try:
        return min(os.sysconf("SC_OPEN_MAX"), _FD_CEILING)
    except (OSError, ValueError):
        return _FD_CEILING


def _reap(pid: int) -> int:
    """The middle child's exit status (it exits as soon as it has forked the hook)."""
    while True:
        try:
            return os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0  # reaped elsewhere; it did its job or not, nothing to do about it here
