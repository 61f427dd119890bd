"""Fixtures for volume tests: busybox in a private BERTH_ROOT, and a teardown that removes every
container with ``berth rm -f`` and then checks that no mount is left behind (volumes included)."""
from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
from testlib import mounts_under


class Vol:
    """``berth`` for volume tests."""

    def __init__(self, env: Any) -> None:
        self.env = env
        self.root = str(env.root)

    def __call__(self, *args: str, **kw: Any) -> subprocess.CompletedProcess:
        return self.env.berth(*args, **kw)

    def out(self, *args: str, **kw: Any) -> str:
        return self.env.berth(*args, **kw).stdout.decode()

    def fails(self, *args: str, input: bytes | None = None) -> tuple[int, str]:
        """Run a command expected to fail: (exit code, stdout + stderr)."""
        proc = self.env.berth(*args, check=False, input=input)
        assert proc.returncode != 0, f"berth {' '.join(args)} succeeded"
        return proc.returncode, (proc.stdout + proc.stderr).decode()

    def run(self, *args: str) -> tuple[int, str]:
        """``berth run ARGS`` in the foreground: (exit code, stdout + stderr)."""
        proc = self.env.berth("run", *args, check=False)
        return proc.returncode, (proc.stdout + proc.stderr).decode()

    def inspect(self, name: str) -> dict:
        return json.loads(self.out("inspect", name))[0]

    def volumes(self, *filters: str) -> list[str]:
        args = [a for f in filters for a in ("-f", f)]
        return self.out("volume", "ls", "-q", *args).split()

    def volume_mounts(self) -> list[str]:
        return mounts_under(os.path.join(self.root, "volumes"))


@pytest.fixture
def vol(berth_env: Any, busybox: str) -> Iterator[Vol]:
    helper = Vol(berth_env)
    try:
        yield helper
    finally:
        problems = []
        ids = helper.out("ps", "-aq", "--no-trunc").split()
        for cid in ids:
            proc = berth_env.berth("rm", "-f", cid, check=False)
            if proc.returncode != 0:
                problems.append(f"rm -f {cid[:12]}: {proc.stderr.decode().strip()}")
        leaked = [m for m in mounts_under(str(berth_env.base)) if "/containers/" in m or
                  "/volumes/" in m or "/netns/" in m]
        assert not problems, problems
        assert not leaked, f"mounts left: {leaked}"


@pytest.fixture
def host_dir(tmp_path: Any) -> str:
    path = tmp_path / "host"
    path.mkdir()
    return str(path)
