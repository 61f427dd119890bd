"""Drive the berth.engine modules with real ``ansible-playbook`` runs on localhost.

``play(tasks, check=..., diff=...)`` writes a one-play playbook (connection local, the venv's
python as interpreter), runs it with every ansible-core controller venv that exists (.venv: 2.19,
.venv-2.21: 2.21; the test is parametrized) against the test's private BERTH_ROOT/RUN/CONFIG, and
returns each task's result as recorded by ``callback_plugins/berth_record.py``.
Teardown force-removes every container the test left, so no shim outlives it.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml
from play_helpers import CONTROLLERS, REPO

HERE = Path(__file__).resolve().parent
REGISTRY_BIN = "/usr/bin/docker-registry"


@pytest.fixture(scope="session")
def collections_path() -> Iterator[str]:
    base = tempfile.mkdtemp(prefix="berth-collections-")
    ns = Path(base) / "ansible_collections" / "berth"
    ns.mkdir(parents=True)
    os.symlink(REPO, ns / "engine")
    try:
        yield base
    finally:
        shutil.rmtree(base, ignore_errors=True)


@dataclass
class Run:
    rc: int
    output: str
    results: list[dict[str, Any]]

    def __getitem__(self, task: str) -> dict[str, Any]:
        """The result of the (last) task named ``task``."""
        for entry in reversed(self.results):
            if entry["task"] == task:
                return entry["result"]
        raise KeyError(f"no result for task {task!r}; output:\n{self.output}")

    def failed(self, task: str) -> bool:
        return any(e["task"] == task and e["status"] == "failed" for e in self.results)

    @property
    def changed(self) -> list[str]:
        return [e["task"] for e in self.results if e["result"].get("changed")]


class Player:
    def __init__(self, env: Any, controller: str, collections: str, workdir: Path) -> None:
        self.env = env
        self.controller = REPO / controller / "bin" / "ansible-playbook"
        self.collections = collections
        self.workdir = workdir
        self.count = 0

    def __call__(self, tasks: list[dict[str, Any]], check: bool = False, diff: bool = False,
                 expect_failure: bool = False, interpreter: str = sys.executable) -> Run:
        self.count += 1
        book = self.workdir / f"play{self.count}.yml"
        book.write_text(yaml.safe_dump([{
            "hosts": "localhost", "connection": "local", "gather_facts": False,
            "vars": {"ansible_python_interpreter": interpreter}, "tasks": tasks}]))
        return self.book(book, check=check, diff=diff, expect_failure=expect_failure)

    def book(self, book: Path, check: bool = False, diff: bool = False,
             expect_failure: bool = False, extra_vars: dict[str, Any] | None = None) -> Run:
        """Run the playbook file ``book``."""
        self.count += 1
        record = self.workdir / f"play{self.count}.jsonl"
        env = self.env.environ()
        env.update(ANSIBLE_COLLECTIONS_PATH=self.collections, BERTH_RECORD=str(record),
                   ANSIBLE_CALLBACK_PLUGINS=str(HERE / "callback_plugins"),
                   ANSIBLE_CALLBACKS_ENABLED="berth_record", ANSIBLE_NOCOLOR="1",
                   ANSIBLE_HOME=str(self.workdir / "ansible-home"),
                   ANSIBLE_RETRY_FILES_ENABLED="0", ANSIBLE_LOCALHOST_WARNING="0",
                   ANSIBLE_INVENTORY_UNPARSED_WARNING="0")
        args = [str(self.controller), "-i", "localhost,", str(book)]
        if check:
            args.append("--check")
        if diff:
            args.append("--diff")
        if extra_vars:
            args += ["-e", json.dumps(extra_vars)]
        proc = subprocess.run(args, env=env, capture_output=True, text=True, timeout=600, check=False)
        results = [json.loads(line) for line in record.read_text().splitlines()] \
            if record.exists() else []
        run = Run(proc.returncode, proc.stdout + proc.stderr, results)
        if expect_failure:
            assert proc.returncode != 0, f"playbook should have failed:\n{run.output}"
        else:
            assert proc.returncode == 0, f"playbook failed:\n{run.output}"
        assert "Traceback" not in run.output, run.output
        return run


@pytest.fixture(params=CONTROLLERS)
def play(request: pytest.FixtureRequest, berth_env: Any, collections_path: str) -> Iterator[Player]:
    player = Player(berth_env, request.param, collections_path, berth_env.base / "ansible")
    player.workdir.mkdir()
    try:
        yield player
    finally:
        _remove_containers(berth_env)


def _remove_containers(env: Any) -> None:
    """Force-remove what a test left (a failed assertion must not leave a shim running)."""
    from berth.container import ContainerService

    svc = ContainerService()
    for c in svc.records.all():
        try:
            svc.remove(c.id, force=True)
        except Exception:  # noqa: BLE001 - teardown of a failed test: best effort, keep going
            pass
    if (env.root / "berth.db").exists() or any(env.root.iterdir()):
        from berth.network import NetworkManager

        NetworkManager(svc.store).remove_all()  # bridges and iptables rules of the test's networks


# -- a local registry (Debian's docker-registry) with htpasswd auth --------------------------------

@dataclass
class Registry:
    host: str
    user: str
    password: str


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    if not os.path.exists(REGISTRY_BIN):
        pytest.skip("docker-registry is not installed")
    import requests

    user, password = "alice", "s3cret pass"
    htpasswd = tmp_path / "htpasswd"
    htpasswd.write_bytes(subprocess.run(["htpasswd", "-Bbn", user, password], capture_output=True,
                                        check=True).stdout)
    port = _free_port()
    (tmp_path / "storage").mkdir()
    cfg = tmp_path / "config.yml"
    cfg.write_text(yaml.safe_dump({
        "version": 0.1, "log": {"level": "error", "accesslog": {"disabled": True}},
        "storage": {"filesystem": {"rootdirectory": str(tmp_path / "storage")}},
        "http": {"addr": f"127.0.0.1:{port}"},
        "auth": {"htpasswd": {"realm": "berth-test", "path": str(htpasswd)}}}))
    log = open(tmp_path / "registry.log", "wb")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"http://127.0.0.1:{port}/v2/", timeout=1)
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((tmp_path / "registry.log").read_text()) from None
                time.sleep(0.05)
        yield Registry(f"127.0.0.1:{port}", user, password)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
