"""Helpers for runtime tests: an overlay-mounted busybox bundle, output readers, exit codes."""
from __future__ import annotations

import json
import os
import selectors
import signal
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Optional

import berth.runtime as rt

TEST_CGROUP_PARENT = "berth-test"
WAIT_LIMIT = 60.0  # a guard against hangs, not an assertion on speed


def exit_code(status: int) -> int:
    """Exit code as a caller (shell, docker) computes it: 128+signo when killed by a signal."""
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_pid(pid: int, limit: float = WAIT_LIMIT) -> int:
    deadline = time.monotonic() + limit
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return exit_code(status)
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            os.waitpid(pid, 0)
            raise AssertionError(f"process {pid} did not exit within {limit}s")
        time.sleep(0.005)


def read_pipes(out_r: int, err_r: int, limit: float = WAIT_LIMIT) -> tuple[str, str]:
    buffers = {out_r: b"", err_r: b""}
    sel = selectors.DefaultSelector()
    for fd in buffers:
        sel.register(fd, selectors.EVENT_READ)
    deadline = time.monotonic() + limit
    open_fds = set(buffers)
    while open_fds:
        if time.monotonic() > deadline:
            raise AssertionError("container output did not end")
        for key, _events in sel.select(timeout=0.5):
            chunk = os.read(key.fd, 65536)
            if chunk:
                buffers[key.fd] += chunk
            else:
                sel.unregister(key.fd)
                open_fds.discard(key.fd)
    sel.close()
    return buffers[out_r].decode(errors="replace"), buffers[err_r].decode(errors="replace")


def read_until(fd: int, marker: str, limit: float = WAIT_LIMIT) -> str:
    """Read ``fd`` until ``marker`` has been seen (the container reached a known point)."""
    data = b""
    deadline = time.monotonic() + limit
    sel = selectors.DefaultSelector()
    sel.register(fd, selectors.EVENT_READ)
    try:
        while marker.encode() not in data:
            if time.monotonic() > deadline:
                raise AssertionError(f"no {marker!r} in container output {data!r}")
            if sel.select(timeout=0.5):
                chunk = os.read(fd, 65536)
                if not chunk:
                    raise AssertionError(f"output ended before {marker!r}: {data!r}")
                data += chunk
    finally:
        sel.close()
    return data.decode(errors="replace")


class Bundle:
    """A bundle directory with config.json and an overlay rootfs over the busybox lowerdir."""

    def __init__(self, base: Path, lowerdir: str, runtime: str = "berth") -> None:
        self.id = "t" + uuid.uuid4().hex[:15]
        self.dir = base / self.id
        self.upper, self.work, self.rootfs = (self.dir / "upper", self.dir / "work",
                                              self.dir / "rootfs")
        for d in (self.upper, self.work, self.rootfs):
            d.mkdir(parents=True)
        self.lowerdir = lowerdir
        self.runtime = rt.runtime_for(runtime)
        self.pids: list[int] = []
        rt.mount_rootfs([lowerdir], str(self.upper), str(self.work), str(self.rootfs))
        self.spec: dict[str, Any] = rt.default_spec(["true"], hostname="box-" + self.id[:6],
                                                    rootfs_path=str(self.rootfs),
                                                    cgroups_path=f"/{TEST_CGROUP_PARENT}/{self.id}")
        self.spec["annotations"] = {"berth.id": self.id}

    @property
    def cgroup(self) -> rt.Cgroup:
        return rt.Cgroup(self.spec["linux"]["cgroupsPath"])

    def write(self, args: Optional[Sequence[str]] = None) -> None:
        if args is not None:
            self.spec["process"]["args"] = list(args)
        with open(self.dir / "config.json", "w") as f:
            json.dump(self.spec, f)

    def start(self, args: Sequence[str], console: bool = False) -> tuple[rt.Started, int, int]:
        """Start ``args``; return the Started and the read ends of stdout and stderr."""
        self.write(args)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            started = self.runtime.start(str(self.dir), os.open(os.devnull, os.O_RDONLY),
                                         out_w, err_w, console=console)
        except BaseException:
            os.close(out_r)
            os.close(err_r)
            raise
        finally:
            os.close(out_w)
            os.close(err_w)
        self.pids.append(started.pid)
        return started, out_r, err_r

    def run(self, args: Sequence[str]) -> tuple[int, str, str]:
        """Run ``args`` to completion: (exit code, stdout, stderr)."""
        started, out_r, err_r = self.start(args)
        try:
            out, err = read_pipes(out_r, err_r)
        finally:
            os.close(out_r)
            os.close(err_r)
        code = wait_pid(started.pid)
        self.pids.remove(started.pid)
        self.runtime.delete(str(self.dir))
        return code, out, err

    def cleanup(self) -> None:
        for pid in self.pids:
            try:
                os.kill(pid, signal.SIGKILL)
                os.waitpid(pid, 0)
            except (ProcessLookupError, ChildProcessError):
                pass
        try:
            self.runtime.delete(str(self.dir), force=True)
        finally:
            rt.unmount_rootfs(str(self.rootfs))
