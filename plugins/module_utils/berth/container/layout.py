"""Where a container's files live: ``<root>/containers/<id>/`` (persistent) and
``<run>/containers/<id>/`` (shim files, gone after a reboot)."""
from __future__ import annotations

import os

from ..store import Store


class ContainerPaths:
    def __init__(self, store: Store, cid: str) -> None:
        self.id = cid
        self.dir = os.path.join(store.root, "containers", cid)
        # The short ID keeps <run>/containers/<id>/shim.sock under the 107 bytes a unix socket
        # path may have, even below a long BERTH_RUN; create() keeps short IDs unique.
        self.run_dir = os.path.join(store.run, "containers", cid[:12])
        self.upper = os.path.join(self.dir, "upper")
        self.work = os.path.join(self.dir, "work")
        self.rootfs = os.path.join(self.dir, "rootfs")
        self.bundle = os.path.join(self.dir, "bundle")
        self.hostname = os.path.join(self.dir, "hostname")
        self.hosts = os.path.join(self.dir, "hosts")
        self.resolv_conf = os.path.join(self.dir, "resolv.conf")
        self.log = os.path.join(self.dir, f"{cid}-json.log")
        self.config_json = os.path.join(self.bundle, "config.json")
        self.shim_json = os.path.join(self.run_dir, "shim.json")
        self.state_json = os.path.join(self.run_dir, "state.json")
        self.socket = os.path.join(self.run_dir, "shim.sock")

    @property
    def cgroup_path(self) -> str:
        return f"/berth/{self.id}"


def is_mounted(path: str) -> bool:
    target = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        for line in f:
            if line.split()[4].encode().decode("unicode_escape") == target:
                return True
    return False


def write_atomic(path: str, data: bytes, mode: int = 0o644) -> None:
    tmp = f"{path}.tmp-{os.getpid()}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, mode)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(tmp, path)
