"""The engines under test, each driven through its CLI with Docker's flags.

``Berth`` uses a temp BERTH_ROOT/BERTH_RUN/BERTH_CONFIG; ``Berthd`` starts berth's daemon on its
own temp root and socket and drives it with ``berth -H unix://<sock>``; ``Docker`` starts its own
dockerd (temp data root, exec root, socket, pidfile; bridge 10.198.0.1/24); ``Podman`` gets a temp
containers.conf / storage.conf / CNI config (bridge bench-cni0, 10.197.0.0/24). Every daemon is
stopped by its PID.
"""
from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import subprocess
import time
from typing import Optional

from host import detach_mounts, log

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
VENV = os.environ.get("BENCH_BERTH_VENV") or os.path.join(REPO, ".venv")
DOCKER_CLIENT = "/usr/bin/docker"  # Debian's 20.10 client (matches dockerd's API)
DOCKER_BIP = "10.198.0.1/24"
PODMAN_SUBNET = "10.197.0.0/24"
PODMAN_BRIDGE = "bench-cni0"
MARKERS = ("docker0", PODMAN_BRIDGE, "10.198.0.", "10.197.0.")


class Engine:
    name = ""
    shim_label = ""

    def __init__(self, base: str) -> None:
        self.base = os.path.join(base, self.name)
        os.makedirs(self.base, exist_ok=True)
        self.env = dict(os.environ)

    def argv(self, *args: str) -> list[str]:
        raise NotImplementedError

    def run(self, *args: str, check: bool = True, timeout: float = 600,
            extra_env: Optional[dict[str, str]] = None, stdin: Optional[bytes] = None) -> str:
        env = dict(self.env, **(extra_env or {}))
        proc = subprocess.run(self.argv(*args), env=env, capture_output=True, timeout=timeout,
                              input=stdin, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{self.name} {' '.join(args)} exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace').strip()[-400:]}")
        return proc.stdout.decode(errors="replace")

    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def shim_pids(self) -> list[int]:
        """PIDs of the per-container monitor processes this engine instance started."""
        return []

    def container_ids(self) -> list[str]:
        out = self.run("ps", "-aq", check=False)
        return [line.strip() for line in out.splitlines() if line.strip()]

    def unsupported(self, verb: str) -> str:
        """Why ``verb`` cannot run on this engine ('' when it can): its rows skip it."""
        return ""

    def rm_force(self, *ids: str) -> tuple[str, ...]:
        """``rm -f`` arguments: kill at once, as docker's rm -f does (SIGKILL)."""
        return ("rm", "-f", *ids)

    def remove_all_containers(self) -> None:
        ids = self.container_ids()
        if ids:
            self.run(*self.rm_force(*ids), check=False)


def _cmdline(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as f:
            return f.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def pids_matching(*needles: str) -> list[int]:
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            line = _cmdline(int(entry))
            if line and all(n in line for n in needles):
                out.append(int(entry))
    return out


def _stop_pid(pid: int, name: str, timeout: float = 20) -> None:
    try:
        os.kill(pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        except ChildProcessError:
            if not os.path.exists(f"/proc/{pid}"):
                return
        time.sleep(0.1)
    log(f"{name} (pid {pid}) ignored SIGTERM for {timeout:.0f}s: SIGKILL")
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass


class Berth(Engine):
    name = "berth"
    shim_label = "berth-shim"

    def __init__(self, base: str, pycache: str) -> None:
        super().__init__(base)
        for d in ("root", "run", "config"):
            os.makedirs(os.path.join(self.base, d), exist_ok=True)
        self.env.update(BERTH_ROOT=os.path.join(self.base, "root"),
                        BERTH_RUN=os.path.join(self.base, "run"),
                        BERTH_CONFIG=os.path.join(self.base, "config"))
        # An installed package has its bytecode cached; this host sets PYTHONDONTWRITEBYTECODE,
        # which would make every berth command recompile ~340 modules. Cache it outside the repo.
        self.env.pop("PYTHONDONTWRITEBYTECODE", None)
        self.env["PYTHONPYCACHEPREFIX"] = pycache

    @property
    def python(self) -> str:
        return os.path.join(VENV, "bin", "python")

    def argv(self, *args: str) -> list[str]:
        return [os.path.join(VENV, "bin", "berth"), *args]

    def shim_pids(self) -> list[int]:
        return pids_matching("berth.shim", self.env["BERTH_RUN"] + "/")

    def stop(self) -> None:
        self.remove_all_containers()
        for pid in self.shim_pids():
            _stop_pid(pid, "berth shim", timeout=5)
        code = ("from berth.network import NetworkManager\nfrom berth.store import Store\n"
                "NetworkManager(Store()).remove_all()\n")
        proc = subprocess.run([self.python, "-c", code], env=self.env, capture_output=True,
                              text=True, check=False)
        if proc.returncode != 0:
            log(f"berth network cleanup failed: {proc.stderr.strip()[-300:]}")


class Berthd(Berth):
    """berth's daemon (``python -m berth.api``) on a private socket, driven by ``berth -H``.

    Its own BERTH_ROOT/BERTH_RUN/BERTH_CONFIG (a ``berthd`` dir beside the others); the same
    cached bytecode as ``berth``. Commands go through the daemon; ``local()`` runs the daemonless
    CLI on the daemon's root, for setup steps that have no remote form."""

    name = "berthd"

    #: verbs ``berth -H`` cannot send (cli/client.py's REMOTE table): their rows skip
    UNSUPPORTED = ("exec", "save", "load", "commit", "export", "cp")

    def __init__(self, base: str, pycache: str) -> None:
        super().__init__(base, pycache)
        self.sock = os.path.join(self.base, "berthd.sock")
        self.proc: Optional[subprocess.Popen] = None
        self.logf = None

    def argv(self, *args: str) -> list[str]:
        return [os.path.join(VENV, "bin", "berth"), "-H", f"unix://{self.sock}", *args]

    def unsupported(self, verb: str) -> str:
        """Why ``verb`` cannot run on this engine ('' when it can)."""
        return f"berth -H has no '{verb}'" if verb in self.UNSUPPORTED else ""

    def start(self) -> None:
        self.logf = open(os.path.join(self.base, "berthd.log"), "wb")
        self.proc = subprocess.Popen(
            [self.python, "-m", "berth.api", "-H", f"unix://{self.sock}", "--pidfile",
             os.path.join(self.base, "berthd.pid")], env=self.env, stdout=self.logf,
            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"berthd exited {self.proc.returncode}; see "
                                   f"{self.base}/berthd.log")
            if os.path.exists(self.sock) and subprocess.run(
                    self.argv("ps", "-q"), env=self.env, capture_output=True, timeout=10,
                    check=False).returncode == 0:
                return
            time.sleep(0.1)
        raise RuntimeError("berthd did not answer within 60 s")

    def local(self, *args: str, check: bool = True) -> str:
        """``berth ARGS`` without -H, on the daemon's root (setup steps, cleanup)."""
        proc = subprocess.run(super().argv(*args), env=self.env, capture_output=True,
                              timeout=600, check=False)
        if check and proc.returncode != 0:
            raise RuntimeError(f"berth {' '.join(args)} exited {proc.returncode}: "
                               f"{proc.stderr.decode(errors='replace').strip()[-400:]}")
        return proc.stdout.decode(errors="replace")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.remove_all_containers()
            _stop_pid(self.proc.pid, "berthd", timeout=30)
        self.proc = None
        if self.logf is not None:
            self.logf.close()
            self.logf = None
        # what the daemon left (it stopped early, or a removal failed): the daemonless CLI
        ids = self.local("ps", "-aq", check=False).split()
        if ids:
            self.local("rm", "-f", *ids, check=False)
        super().stop()  # shims, the networks (its container removal finds nothing left)


class Docker(Engine):
    name = "docker"
    shim_label = "containerd-shim-runc-v2"

    def __init__(self, base: str) -> None:
        super().__init__(base)
        self.sock = os.path.join(self.base, "docker.sock")
        self.exec_root = os.path.join(self.base, "exec")
        self.env.update(DOCKER_HOST=f"unix://{self.sock}",
                        DOCKER_CONFIG=os.path.join(self.base, "client-config"))
        self.proc: Optional[subprocess.Popen] = None

    def argv(self, *args: str) -> list[str]:
        return [DOCKER_CLIENT, *args]

    def start(self) -> None:
        os.makedirs(self.env["DOCKER_CONFIG"], exist_ok=True)
        self.logf = open(os.path.join(self.base, "dockerd.log"), "wb")
        argv = ["dockerd", "--data-root", os.path.join(self.base, "data"), "--exec-root",
                self.exec_root, "-H", f"unix://{self.sock}", "--pidfile",
                os.path.join(self.base, "dockerd.pid"), "--bip", DOCKER_BIP,
                "--storage-driver", "overlay2", "--log-level", "warn",
                "--default-ulimit", "nofile=20000:20000"]
        self.proc = subprocess.Popen(argv, stdout=self.logf, stderr=subprocess.STDOUT,
                                     start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited {self.proc.returncode}; see "
                                   f"{self.base}/dockerd.log")
            if os.path.exists(self.sock) and \
                    self.run("version", "--format", "{{.Server.Version}}", check=False).strip():
                return
            time.sleep(0.2)
        raise RuntimeError("dockerd did not answer within 60 s")

    def shim_pids(self) -> list[int]:
        return pids_matching("containerd-shim", self.exec_root + "/")

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.remove_all_containers()
            _stop_pid(self.proc.pid, "dockerd", timeout=30)
        for pid in self.shim_pids():  # a shim that outlived its dockerd
            _stop_pid(pid, "containerd-shim", timeout=5)
        self.proc = None


class Podman(Engine):
    name = "podman"
    shim_label = "conmon"

    def __init__(self, base: str) -> None:
        super().__init__(base)
        b = self.base
        self.storage_root = os.path.join(b, "storage")
        self.runroot = os.path.join(b, "runroot")
        cni = os.path.join(b, "cni")
        os.makedirs(cni, exist_ok=True)
        # Rootful podman raises RLIMIT_NPROC to 4194304 by default: above what runc may set here
        # (no CAP_SYS_RESOURCE; measured: 32768 works, 65536 fails with EPERM). Pin it.
        nproc = min(32768, resource.getrlimit(resource.RLIMIT_NPROC)[1])
        with open(os.path.join(b, "containers.conf"), "w") as f:
            f.write("[containers]\n"
                    f'default_ulimits = ["nofile=20000:20000", "nproc={nproc}:{nproc}"]\n'
                    "[engine]\n"
                    'runtime = "runc"\n'
                    'cgroup_manager = "cgroupfs"\n'
                    'events_logger = "none"\n'
                    f'tmp_dir = "{b}/tmp"\n'
                    f'volume_path = "{b}/volumes"\n'
                    "[network]\n"
                    'network_backend = "cni"\n'
                    f'network_config_dir = "{cni}"\n'
                    'default_network = "benchnet"\n')
        with open(os.path.join(b, "storage.conf"), "w") as f:
            f.write(f'[storage]\ndriver = "overlay"\ngraphroot = "{self.storage_root}"\n'
                    f'runroot = "{self.runroot}"\n')
        with open(os.path.join(b, "registries.conf"), "w") as f:
            f.write('unqualified-search-registries = []\n'
                    '[[registry]]\nlocation = "127.0.0.1:5000"\ninsecure = true\n')
        conflist = {
            "cniVersion": "0.4.0", "name": "benchnet",
            "plugins": [
                {"type": "bridge", "bridge": PODMAN_BRIDGE, "isGateway": True, "ipMasq": True,
                 "hairpinMode": True,
                 "ipam": {"type": "host-local", "dataDir": os.path.join(b, "cni-ipam"),
                          "routes": [{"dst": "0.0.0.0/0"}],
                          "ranges": [[{"subnet": PODMAN_SUBNET,
                                       "gateway": PODMAN_SUBNET.replace(".0/24", ".1")}]]}},
                {"type": "portmap", "capabilities": {"portMappings": True}},
                {"type": "firewall", "backend": "iptables"},
                {"type": "tuning"}]}
        with open(os.path.join(cni, "benchnet.conflist"), "w") as f:
            json.dump(conflist, f, indent=1)
        self.env.update(CONTAINERS_CONF=os.path.join(b, "containers.conf"),
                        CONTAINERS_STORAGE_CONF=os.path.join(b, "storage.conf"),
                        CONTAINERS_REGISTRIES_CONF=os.path.join(b, "registries.conf"),
                        REGISTRY_AUTH_FILE=os.path.join(b, "auth.json"),
                        XDG_RUNTIME_DIR=os.path.join(b, "xdg"),
                        XDG_CONFIG_HOME=os.path.join(b, "xdg-config"),
                        XDG_DATA_HOME=os.path.join(b, "xdg-data"))
        os.makedirs(self.env["XDG_RUNTIME_DIR"], exist_ok=True)
        with open(self.env["REGISTRY_AUTH_FILE"], "w") as f:
            f.write('{"auths": {}}\n')

    def argv(self, *args: str) -> list[str]:
        return ["podman", *args]

    def rm_force(self, *ids: str) -> tuple[str, ...]:
        # podman's rm -f stops first (SIGTERM, 10 s grace: sleep as PID 1 ignores it); -t 0 kills.
        return ("rm", "-f", "-t", "0", *ids)

    def start(self) -> None:
        self.run("info", "--format", "{{.Host.OCIRuntime.Name}}")

    def shim_pids(self) -> list[int]:
        return pids_matching("conmon", self.base + "/")

    def stop(self) -> None:
        self.remove_all_containers()
        for pid in self.shim_pids():
            _stop_pid(pid, "conmon", timeout=5)
        self.run("system", "reset", "--force", check=False, timeout=120)


def rss_kb(pids: list[int]) -> tuple[int, int]:
    """(sum of VmRSS, sum of Pss) in kB over ``pids``."""
    rss = pss = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        rss += int(line.split()[1])
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except OSError:
            pass
    return rss, pss


def cleanup_dir(path: str) -> None:
    detach_mounts(path)
    shutil.rmtree(path, ignore_errors=True)
