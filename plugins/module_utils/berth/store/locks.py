"""Inter-process locks: flock on files under <root>/locks, released automatically if a process dies."""
from __future__ import annotations

import contextlib
import fcntl
import os
import re
from collections.abc import Iterator

_NAME = re.compile(r"^[A-Za-z0-9_.:-]+$")


@contextlib.contextmanager
def file_lock(lock_dir: str, name: str, shared: bool = False) -> Iterator[None]:
    if not _NAME.match(name):
        raise ValueError(f"bad lock name {name!r}")
    fd = os.open(os.path.join(lock_dir, name + ".lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_SH if shared else fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the flock
