"""Small file helpers shared by the cgroup v1 and v2 backends."""
from __future__ import annotations

import errno
import os
import time
from typing import Optional


def write(directory: str, name: str, value: str) -> None:
    fd = os.open(os.path.join(directory, name), os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, value.encode())
    except OSError as e:
        raise OSError(e.errno, f"write {name}={value}: {os.strerror(e.errno)}", directory) from None
    finally:
        os.close(fd)


def read(directory: str, name: str) -> str:
    with open(os.path.join(directory, name)) as f:
        return f.read().strip()


def read_int(directory: str, name: str) -> Optional[int]:
    try:
        value = read(directory, name)
    except OSError:
        return None
    return None if value == "max" else int(value)


def read_keyed(directory: str, name: str) -> dict[str, int]:
    """A flat-keyed file (``key value`` per line), e.g. memory.stat or cpu.stat."""
    out: dict[str, int] = {}
    try:
        text = read(directory, name)
    except OSError:
        return out
    for line in text.splitlines():
        key, _sep, value = line.partition(" ")
        if value.strip().lstrip("-").isdigit():
            out[key] = int(value)
    return out


def procs(directory: str) -> list[int]:
    try:
        return [int(p) for p in read(directory, "cgroup.procs").split()]
    except FileNotFoundError:
        return []


def make_dirs(root: str, relpath: str) -> list[str]:
    """Create ``root/relpath`` level by level; return the directories actually created (outermost
    first) so a failure can remove exactly those."""
    created = []
    current = root
    for part in relpath.split("/"):
        current = os.path.join(current, part)
        try:
            os.mkdir(current)
            created.append(current)
        except FileExistsError:
            pass
    return created


def remove_tree(directory: str, timeout: float) -> None:
    """rmdir ``directory`` and its child cgroups, waiting up to ``timeout`` s for exiting tasks."""
    if not os.path.isdir(directory):
        return
    deadline = time.monotonic() + timeout
    for dirpath, dirnames, _filenames in os.walk(directory, topdown=False):
        delay = 0.001
        while True:
            try:
                os.rmdir(dirpath)
                break
            except FileNotFoundError:
                break
            except OSError as e:
                if e.errno != errno.EBUSY or time.monotonic() > deadline:
                    raise OSError(e.errno, f"rmdir: {os.strerror(e.errno)}", dirpath) from None
                time.sleep(delay)
                delay = min(delay * 2, 0.05)
