"""Inputs shared by every engine: the busybox rootfs, bigger rootfs tars, a local registry."""
from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import tarfile
import time
import urllib.request
from typing import Optional

from engines import REPO, _stop_pid
from host import log

CHUNK = 1 << 20


def busybox_tar(cache: Optional[str]) -> str:
    argv = [sys.executable, os.path.join(REPO, "scripts", "base_images.py"), "busybox"]
    if cache:
        argv += ["--cache", cache]
    out = subprocess.run(argv, capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


def rootfs_with_random(base_tar: str, out: str, megabytes: int) -> str:
    """``base_tar`` plus /data/random.bin of ``megabytes`` MiB of random (incompressible) bytes."""
    if os.path.exists(out):
        return out
    tmp = out + ".tmp"
    with tarfile.open(base_tar) as src, tarfile.open(tmp, "w") as dst:
        for member in src:
            dst.addfile(member, src.extractfile(member) if member.isreg() else None)
        info = tarfile.TarInfo("data")
        info.type, info.mode = tarfile.DIRTYPE, 0o755
        dst.addfile(info)
        info = tarfile.TarInfo("data/random.bin")
        info.size, info.mode = megabytes * CHUNK, 0o644
        dst.addfile(info, _RandomReader(megabytes * CHUNK))
    os.replace(tmp, out)
    return out


class _RandomReader(io.RawIOBase):
    def __init__(self, size: int) -> None:
        self.left = size

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return os.urandom(n)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Registry:
    """Debian's docker-registry on 127.0.0.1, with storage that ``reset()`` wipes."""

    def __init__(self, base: str) -> None:
        self.base = os.path.join(base, "registry")
        self.storage = os.path.join(self.base, "storage")
        os.makedirs(self.storage, exist_ok=True)
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.config = os.path.join(self.base, "config.yml")
        with open(self.config, "w") as f:
            f.write(f"version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n"
                    f"    rootdirectory: {self.storage}\n  delete:\n    enabled: true\n"
                    f"http:\n  addr: {self.host}\n")
        self.proc: Optional[subprocess.Popen] = None

    def start(self) -> None:
        logf = open(os.path.join(self.base, "registry.log"), "ab")
        self.proc = subprocess.Popen(["docker-registry", "serve", self.config], stdout=logf,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with urllib.request.urlopen(f"http://{self.host}/v2/", timeout=1) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("docker-registry did not start")

    def stop(self) -> None:
        if self.proc is not None:
            _stop_pid(self.proc.pid, "docker-registry", timeout=10)
            self.proc = None

    def reset(self) -> None:
        """Empty the storage, so every push uploads every byte: no cross-repo mount, no HEAD hit."""
        self.stop()
        shutil.rmtree(self.storage, ignore_errors=True)
        os.makedirs(self.storage)
        self.start()


def http_ok(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=0.5) as r:
            r.read()
            return r.status == 200
    except OSError:
        return False
    except Exception:  # noqa: BLE001 - a half-open proxy can raise http.client errors
        return False


def wait_http(url: str, timeout: float = 30) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if http_ok(url):
            return True
        time.sleep(0.01)
    log(f"no HTTP 200 from {url} within {timeout:.0f}s")
    return False
