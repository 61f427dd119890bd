"""The health probe the shim runs (health.py): ``python -m berth.container.health_probe ID PID``.

It runs the container's health ``Test`` in the namespaces and cgroup of the process ``PID`` (the
container's PID 1) like ``berth exec``, its output on the shim's pipe, and exits with the test's
exit code (1 with a message on stderr when it cannot run the test).
"""
from __future__ import annotations

import os
import signal
import sys
from typing import Optional

from .. import runtime
from ..errors import BerthError, InvalidArgument
from ..store import Store
from .execute import exec_process
from .health import active, command
from .service import ContainerService

USAGE = "usage: python -m berth.container.health_probe CONTAINER_ID PID"


def probe(cid: str, pid: int) -> int:
    """Run the container's health test in the process ``pid``'s namespaces; its exit code."""
    svc = ContainerService(Store())
    c = svc.records.get(cid)
    if c is None:
        raise InvalidArgument(f"no such container: {cid}")
    check = c.config.get("Healthcheck")
    if not active(check):
        raise InvalidArgument(f"container {cid} has no health check")
    process = exec_process(svc, c, command(check["Test"]))
    if not runtime.is_child_subreaper():
        runtime.set_child_subreaper()
    started = runtime.runtime_for(c.spec.runtime).exec_in(pid, process, 0, 1, 2)
    # the shim ends a probe that exceeds its timeout with SIGTERM: the test must go with it
    signal.signal(signal.SIGTERM, lambda _signum, _frame: os.kill(started.pid, signal.SIGKILL))
    while True:
        try:
            code = os.waitstatus_to_exitcode(os.waitpid(started.pid, 0)[1])
        except InterruptedError:
            continue
        except ChildProcessError:
            return 1  # reaped elsewhere: no result to give
        return 128 - code if code < 0 else code  # killed by a signal: 128 + its number


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or not args[1].isdigit():
        sys.stderr.write(USAGE + "\n")
        return 2
    try:
        return probe(args[0], int(args[1]))
    except (BerthError, OSError) as e:
        sys.stderr.write(f"health check: {e}\n")
        return 1


if __name__ == "__main__":
    raise SystemExit(main())
