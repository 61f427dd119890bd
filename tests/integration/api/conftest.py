"""berthd as a subprocess on the test's private root, an HTTP client for its unix socket, the docker
clients and a local registry. Every process is started here and ended by its PID in teardown, and
every container a test made is removed (through the daemonless CLI) before berth_env cleans up."""
from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Optional

import pytest

START_LIMIT = 60.0  # a hang guard for readiness polling, not an assertion


class UnixConnection(http.client.HTTPConnection):
    def __init__(self, path: str, timeout: float = 60) -> None:
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(self.timeout)
        self.sock.connect(self.path)


class Berthd:
    def __init__(self, env: Any) -> None:
        self.env = env
        self.socket = str(env.run / "berth.sock")
        self.pidfile = str(env.run / "berthd.pid")
        self.log = env.base / "berthd.log"
        self.proc: Optional[subprocess.Popen] = None

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen([sys.executable, "-m", "berth.api"], env=self.env.environ(),
                                         stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_LIMIT
        while True:
            try:
                status, _headers, body = self.request("GET", "/_ping", timeout=5)
                if status == 200 and body == b"OK":
                    return
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"berthd did not start: {self.log.read_text()}")
            time.sleep(0.05)

    def signal(self, signum: int) -> int:
        """Send ``signum`` to the daemon this fixture started and reap it; its exit status."""
        assert self.proc is not None
        os.kill(self.proc.pid, signum)
        code = self.proc.wait(60)
        self.proc = None
        return code

    def connection(self, timeout: float = 60) -> UnixConnection:
        return UnixConnection(self.socket, timeout)

    def request(self, method: str, path: str, body: Any = None, timeout: float = 120,
                headers: Optional[dict[str, str]] = None) -> tuple[int, Any, bytes]:
        conn = self.connection(timeout)
        try:
            data = json.dumps(body).encode() if isinstance(body, (dict, list)) else body
            hdrs = dict(headers or {})
            if isinstance(body, (dict, list)):
                hdrs["Content-Type"] = "application/json"
            conn.request(method, path, body=data, headers=hdrs)
            resp = conn.getresponse()
            return resp.status, resp.headers, resp.read()
        finally:
            conn.close()

    def json(self, method: str, path: str, body: Any = None, expect: int = 200) -> Any:
        status, _headers, raw = self.request(method, path, body)
        assert status == expect, f"{method} {path}: {status} {raw[:500]!r}"
        return json.loads(raw) if raw.strip() else None

    def stop_quietly(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.proc = None


def remove_all_containers(env: Any) -> None:
    out = env.berth("ps", "-aq", "--no-trunc", check=False)
    for cid in out.stdout.decode().split():
        env.berth("rm", "-f", cid, check=False)


@pytest.fixture
def berthd(berth_env: Any, busybox: str) -> Iterator[Berthd]:
    """A running berthd on berth_env's root, with busybox:latest imported."""
    daemon = Berthd(berth_env)
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop_quietly()
        remove_all_containers(berth_env)


def _docker_io_client() -> Optional[str]:
    if os.path.exists("/usr/bin/docker"):
        return "/usr/bin/docker"
    if shutil.which("apt-get") is None:
        return None
    # policy-rc.d on these hosts keeps its dockerd from starting; only the client is used.
    proc = subprocess.run(["apt-get", "install", "-y", "--no-install-recommends", "docker.io"],
                          env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
                          capture_output=True, timeout=600, check=False)
    return "/usr/bin/docker" if proc.returncode == 0 and os.path.exists("/usr/bin/docker") else None


@pytest.fixture(scope="session")
def docker_clients() -> dict[str, Optional[str]]:
    return {"docker.io-20.10": _docker_io_client(),
            "docker-28": "/usr/local/bin/docker" if os.path.exists("/usr/local/bin/docker")
            else None}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def local_registry() -> Iterator[str]:
    """Debian's docker-registry on 127.0.0.1:<free port>; yields host:port."""
    binary = "/usr/bin/docker-registry"
    if not os.path.exists(binary):
        pytest.skip("docker-registry is not installed")
    base = Path(tempfile.mkdtemp(prefix="berth-api-registry-"))
    port = free_port()
    (base / "config.yml").write_text(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {base / 'storage'}
http:
  addr: 127.0.0.1:{port}
""")
    with open(base / "registry.log", "wb") as log:
        proc = subprocess.Popen([binary, "serve", str(base / "config.yml")], stdout=log,
                                stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + START_LIMIT
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((base / "registry.log").read_text())
                time.sleep(0.05)
        yield f"127.0.0.1:{port}"
    finally:
        if proc.poll() is None:
            os.kill(proc.pid, signal.SIGTERM)
            proc.wait(30)
        shutil.rmtree(base, ignore_errors=True)
