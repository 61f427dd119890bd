"""The berth.engine.berth connection plugin and the berth.engine.containers inventory plugin,
against a real berth container (the molecule test image: Debian with python3) in a private root."""
from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[3]
VENV_BIN = Path(sys.executable).parent
PAYLOAD = bytes(range(256)) * 64 + b"\n'quotes' \"and\" $(not expanded)\n"


@pytest.fixture(scope="session")
def test_image_tar() -> str:
    out = subprocess.run([sys.executable, str(REPO / "molecule" / "shared" / "test_image.py")],
                         capture_output=True, text=True, check=True)
    return out.stdout.strip().splitlines()[-1]


@pytest.fixture
def container(berth_env, test_image_tar, tmp_path: Path):
    berth_env.berth("import", test_image_tar, "berth-plugin-test:1")
    name = "berth-plugin-test"
    berth_env.berth("run", "-d", "--init", "--network", "none", "--name", name, "-l", "role=web",
                    "berth-plugin-test:1", "sleep", "infinity")
    berth_env.berth("create", "--network", "none", "--name", "stopped-one", "berth-plugin-test:1",
                    "true")
    link = tmp_path / "collections" / "ansible_collections" / "berth" / "engine"
    link.parent.mkdir(parents=True)
    link.symlink_to(REPO)
    env = berth_env.environ()
    env.pop("BERTH_HOST", None)
    env.update(ANSIBLE_COLLECTIONS_PATH=str(tmp_path / "collections"),
               ANSIBLE_BERTH_EXECUTABLE=str(VENV_BIN / "berth"), ANSIBLE_NOCOLOR="1",
               ANSIBLE_PIPELINING="1", ANSIBLE_PYTHON_INTERPRETER="/usr/bin/python3",
               ANSIBLE_HOST_KEY_CHECKING="0")
    try:
        yield name, env
    finally:
        berth_env.berth("rm", "-f", name, "stopped-one", check=False)


def _plain(value):
    """ansible-inventory --list marks strings from plugins {"__ansible_unsafe": ...}: unwrap them."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    return value


def _ansible(tool: str, *args: str, env: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(VENV_BIN / tool), *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=300, check=False)


def test_inventory_lists_running_containers_with_the_connection(container, tmp_path: Path) -> None:
    name, env = container
    inv = tmp_path / "containers.berth.yml"
    inv.write_text("plugin: berth.engine.containers\n"
                   "keyed_groups:\n  - key: berth_labels.role\n    prefix: role\n")
    proc = _ansible("ansible-inventory", "-i", str(inv), "--list", env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = _plain(json.loads(proc.stdout))
    hostvars = data["_meta"]["hostvars"]
    assert list(hostvars) == [name]  # the created-but-stopped container is not a host
    assert hostvars[name]["ansible_connection"] == "berth.engine.berth"
    assert hostvars[name]["berth_labels"] == {"role": "web"}
    assert hostvars[name]["berth_state"] == "running"
    assert data["role_web"]["hosts"] == [name]


def test_connection_runs_commands_and_moves_files(container, tmp_path: Path) -> None:
    name, env = container
    src = tmp_path / "payload.bin"
    src.write_bytes(PAYLOAD)
    fetched = tmp_path / "fetched"
    playbook = tmp_path / "play.yml"
    playbook.write_text(f"""
- hosts: all
  gather_facts: false
  tasks:
    - ansible.builtin.file: {{path: "/tmp/dir with space", state: directory, mode: "0755"}}
    - ansible.builtin.copy: {{src: "{src}", dest: "/tmp/dir with space/payload.bin", mode: "0600"}}
    - ansible.builtin.command: sha256sum "/tmp/dir with space/payload.bin"
      register: sum
    - ansible.builtin.fetch: {{src: "/tmp/dir with space/payload.bin", dest: "{fetched}/", flat: true}}
    - ansible.builtin.command: sh -c 'echo out; echo err >&2; exit 3'
      register: rc3
      failed_when: rc3.rc != 3 or rc3.stdout != 'out' or rc3.stderr != 'err'
    - ansible.builtin.copy: {{content: "{{{{ sum.stdout.split()[0] }}}}", dest: /tmp/sum.txt}}
      delegate_to: localhost
      vars: {{ansible_connection: local, ansible_python_interpreter: "{sys.executable}"}}
      # the checksum, as the container computed it, back on the controller
    - ansible.builtin.stat: {{path: /tmp/nonexistent}}
      register: missing
      failed_when: missing.stat.exists
""".replace("/tmp/sum.txt", str(tmp_path / "sum.txt")))
    proc = _ansible("ansible-playbook", "-i", f"{name},", "-c", "berth.engine.berth",
                    str(playbook), env=env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    assert (fetched / "payload.bin").read_bytes() == PAYLOAD
    assert (tmp_path / "sum.txt").read_text() == hashlib.sha256(PAYLOAD).hexdigest()


def test_connection_reports_a_missing_container(container, tmp_path: Path) -> None:
    env = container[1]
    proc = _ansible("ansible", "-i", "no-such-container,", "-c", "berth.engine.berth", "all",
                    "-m", "ansible.builtin.ping", env=env, cwd=tmp_path)
    assert proc.returncode != 0
    assert "UNREACHABLE" in proc.stdout and "No such container" in proc.stdout, proc.stdout
