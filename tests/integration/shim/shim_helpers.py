"""Helpers for shim tests: a busybox bundle plus a shim launched the way the container service
launches it (shim.json, ``start_new_session``, the ready fd), and polling without timed asserts."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Callable, Optional

import berth.runtime as rt
from berth.shim import client, read_state

TEST_CGROUP_PARENT = "berth-test-shim"
WAIT_LIMIT = 60.0  # a guard against hangs, not an assertion on speed


def wait_for(predicate: Callable[[], Any], what: str, limit: float = WAIT_LIMIT) -> Any:
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up waiting for {what}")
        time.sleep(0.02)


def pid_alive(pid: int) -> bool:
    """True while ``pid`` exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (FileNotFoundError, ProcessLookupError):
        return False


def log_entries(path: str) -> list[dict]:
    with open(path) as f:
        return [json.loads(line) for line in f]


class ShimBox:
    """One container: bundle (overlay rootfs over busybox), run dir, log path and its shim."""

    def __init__(self, base: Path, lowerdir: str, runtime: str = "berth") -> None:
        self.id = uuid.uuid4().hex + uuid.uuid4().hex
        self.dir = base / self.id[:12]
        self.bundle = self.dir / "bundle"
        self.run_dir = self.dir / "run"
        self.log_path = str(self.dir / "log" / f"{self.id}-json.log")
        self.upper, self.work = self.dir / "upper", self.dir / "work"
        self.rootfs = self.bundle / "rootfs"
        for d in (self.upper, self.work, self.rootfs, self.run_dir):
            d.mkdir(parents=True)
        self.runtime = runtime
        self.proc: Optional[subprocess.Popen] = None
        self.ready: dict = {}
        rt.mount_rootfs([lowerdir], str(self.upper), str(self.work), str(self.rootfs))
        self.spec: dict[str, Any] = rt.default_spec(
            ["true"], hostname="shim-" + self.id[:6], rootfs_path=str(self.rootfs),
            cgroups_path=f"/{TEST_CGROUP_PARENT}/{self.id[:16]}")
        self.spec["annotations"] = {"berth.id": self.id[:16]}

    def launch(self, args: Sequence[str], tty: bool = False, interactive: bool = False,
               restart: str = "no", max_retries: int = 0, stop_timeout: float = 10,
               log_max_size: Optional[int] = None, log_max_files: int = 1,
               on_exit: Optional[Sequence[str]] = None,
               released_by: Optional[dict] = None) -> dict:
        """Write config.json and shim.json, start the shim, return its ready message."""
        self.prepare(args, tty, interactive, restart, max_retries, stop_timeout, log_max_size,
                     log_max_files, on_exit, released_by)
        ready_r, ready_w = os.pipe()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "berth.shim", "--ready-fd", str(ready_w), str(self.run_dir)],
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                pass_fds=(ready_w,), start_new_session=True)
        finally:
            os.close(ready_w)
        with os.fdopen(ready_r, "rb") as ready:
            self.ready = json.loads(ready.readline())
        return self.ready

    def prepare(self, args: Sequence[str], tty: bool = False, interactive: bool = False,
                restart: str = "no", max_retries: int = 0, stop_timeout: float = 10,
                log_max_size: Optional[int] = None, log_max_files: int = 1,
                on_exit: Optional[Sequence[str]] = None,
                released_by: Optional[dict] = None) -> None:
        self.spec["process"]["args"] = list(args)
        self.spec["process"]["terminal"] = tty
        with open(self.bundle / "config.json", "w") as f:
            json.dump(self.spec, f)
        shim_cfg = {"id": self.id, "bundle": str(self.bundle), "runtime": self.runtime,
                    "log_path": self.log_path, "log_max_size": log_max_size,
                    "log_max_files": log_max_files,
                    "restart": {"name": restart, "max_retries": max_retries},
                    "stop_signal": "SIGTERM", "stop_timeout": stop_timeout, "tty": tty,
                    "interactive": interactive}
        if on_exit is not None:
            shim_cfg["on_exit"] = list(on_exit)
        if released_by is not None:
            shim_cfg["released_by"] = released_by
        with open(self.run_dir / "shim.json", "w") as f:
            json.dump(shim_cfg, f)

    def cgroup(self) -> rt.Cgroup:
        return rt.Cgroup(self.spec["linux"]["cgroupsPath"])

    def cgroup_exists(self) -> bool:
        return self.cgroup().exists()

    def state(self) -> dict:
        return read_state(str(self.run_dir))

    def request(self, message: dict, timeout: Optional[float] = WAIT_LIMIT) -> dict:
        return client.request(str(self.run_dir), message, timeout)

    def wait_state(self, predicate: Callable[[dict], bool], what: str) -> dict:
        def matching_state() -> dict | None:
            state = self.state()
            return state if predicate(state) else None

        return wait_for(matching_state, what)

    def wait_exited(self) -> dict:
        """The final state, once the shim itself has exited (reaped here: pytest is its parent)."""
        assert self.proc is not None
        self.proc.wait(WAIT_LIMIT)
        return self.state()

    def cleanup(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            try:
                self.request({"op": "shutdown"}, timeout=5)
            except Exception:  # noqa: BLE001 - still running, or already gone: kill below
                pass
            try:
                self.proc.wait(2)
            except subprocess.TimeoutExpired:
                self.proc.send_signal(signal.SIGKILL)
                self.proc.wait()
        try:
            if (self.bundle / "config.json").exists():
                rt.runtime_for(self.runtime).delete(str(self.bundle), force=True)
        finally:
            rt.unmount_rootfs(str(self.rootfs))
