"""What the container service asks the shim to run (docs/design/shim.md, ``on_exit``):

    python -m berth.container.hooks exited <container id>

``exited`` runs once the shim has seen the container's final exit (not between restarts): under
the container's lock it gives back what the run holds — network (veth, netns, iptables rules),
the host mounts of its volumes, the rootfs mount, the cgroup — at once, as Docker does, instead
of at the next berth command. It runs detached with stdio on /dev/null, so it writes nothing;
its exit status says what happened: 0 done (or nothing to do), 1 failed, 2 bad arguments.
"""
from __future__ import annotations

import os
import sys
from typing import Optional

from ..errors import BerthError
from ..paths import root_dir
from ..store import Store
from . import shimctl
from .service import ContainerService

USAGE = "usage: python -m berth.container.hooks exited CONTAINER_ID"
#: how long to wait for the shim that started the hook to be gone (it exits right after)
SHIM_GONE_LIMIT = 30.0


def exited(cid: str, store: Optional[Store] = None) -> bool:
    """Release the resources of container ``cid``'s run if it has ended; True if it did."""
    if store is None:
        if not os.path.isdir(os.path.join(root_dir(), "containers", cid)):
            return False  # removed already (do not recreate a root that is gone)
        store = Store()
    svc = ContainerService(store)
    if svc.records.get(cid) is None:
        return False
    reported = shimctl.read_state(svc.paths(cid)) or {}
    # the shim runs this just before it exits: once it is gone the release need not ask it
    shimctl.wait_gone(int(reported.get("shim_pid") or 0), SHIM_GONE_LIMIT)
    return svc.release_exited(cid)


def main(argv: Optional[list[str]] = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2 or args[0] != "exited":
        sys.stderr.write(USAGE + "\n")
        return 2
    try:
        exited(args[1])
    except (BerthError, OSError) as e:
        sys.stderr.write(f"berth exit hook: {e}\n")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
