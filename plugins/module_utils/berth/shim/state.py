"""``state.json``: the container's state as the shim sees it, replaced atomically on every change.

Once the shim has exited, this file is the final word: the container service reads the exit code
from it. No fsync: the file lives under BERTH_RUN (tmpfs in production) and means nothing after a
reboot; temp + rename is enough to never show a half-written file.
"""
from __future__ import annotations

import json
import os

from ..errors import NotFound
from .clock import ZERO_TIME, rfc3339_nano

STATE_FILE = "state.json"


class State:
    """The fields of state.json (docs/design/shim.md); ``save`` writes them."""

    def __init__(self, path: str, shim_pid: int) -> None:
        self.path = path
        self.status = "created"
        self.pid = 0
        self.shim_pid = shim_pid
        self.exit_code = 0
        self.oom_killed = False
        self.error = ""
        self.started_at = ZERO_TIME
        self.finished_at = ZERO_TIME
        self.restart_count = 0
        self.manually_stopped = False
        self.health: dict | None = None  # the health checker's status, streak and log

    def as_dict(self) -> dict:
        out = {"status": self.status, "pid": self.pid, "shim_pid": self.shim_pid,
               "exit_code": self.exit_code, "oom_killed": self.oom_killed, "error": self.error,
               "started_at": self.started_at, "finished_at": self.finished_at,
               "restart_count": self.restart_count, "manually_stopped": self.manually_stopped}
        if self.health is not None:
            out["health"] = self.health
        return out

    def running(self, pid: int) -> None:
        """Like Docker: exit code, OOM flag and error clear; finished_at keeps the last exit."""
        self.status, self.pid, self.error = "running", pid, ""
        self.exit_code, self.oom_killed = 0, False
        self.started_at = rfc3339_nano()

    def finished(self, status: str, exit_code: int, oom_killed: bool = False,
                 error: str = "") -> None:
        self.status, self.pid = status, 0
        self.exit_code, self.oom_killed, self.error = exit_code, oom_killed, error
        self.finished_at = rfc3339_nano()

    def save(self) -> None:
        write_json_atomic(self.path, self.as_dict())


def write_json_atomic(path: str, value: object) -> None:
    tmp = f"{path}.{os.getpid()}.tmp"
    try:
        with open(tmp, "w") as f:
            f.write(json.dumps(value))
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def read_state(run_dir: str) -> dict:
    """The last state the shim of the container in ``run_dir`` wrote."""
    try:
        with open(os.path.join(run_dir, STATE_FILE), "rb") as f:
            return json.loads(f.read())
    except FileNotFoundError:
        raise NotFound(f"no shim state in {run_dir}") from None
