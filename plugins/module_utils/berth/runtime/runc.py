"""runc as a drop-in for berth's runtime: the same start/exec_in/delete on the same bundle.

runc keeps its state under ``$BERTH_RUN/runc``; the container id is the bundle's ``berth.id``
annotation or the bundle directory's name. ``runc run --detach`` exits once the container runs, so
its PID 1 is reparented to the caller (a child subreaper), exactly as with berth's runtime.
"""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Mapping
from typing import Any, Optional

from .. import paths
from ..errors import BerthError, InvalidArgument, NotFound
from . import init
from .launch import Started, StartError, _require_subreaper, load_spec


def binary() -> Optional[str]:
    return shutil.which("runc")


def available() -> bool:
    return binary() is not None


def state_root() -> str:
    return os.path.join(paths.run_dir(), "runc")


def container_id(bundle_dir: str, spec: Optional[Mapping[str, Any]] = None) -> str:
    spec = spec if spec is not None else load_spec(bundle_dir)
    cid = (spec.get("annotations") or {}).get("berth.id") or os.path.basename(
        os.path.abspath(bundle_dir))
    return cid


def _base_args(log_path: str) -> list[str]:
    runc = binary()
    if runc is None:
        raise NotFound("runc is not installed")
    os.makedirs(state_root(), 0o700, exist_ok=True)
    return [runc, "--root", state_root(), "--log", log_path, "--log-format", "json"]


def _log_error(log_path: str) -> str:
    message = ""
    try:
        with open(log_path) as f:
            for line in f:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if entry.get("level") in ("error", "fatal"):
                    message = entry.get("msg", "")
    except OSError:
        pass
    return message


def _classify(message: str) -> int:
    if "executable file not found" in message or "no such file or directory" in message:
        return init.EXIT_NOT_FOUND
    if "permission denied" in message:
        return init.EXIT_NOT_EXECUTABLE
    return init.EXIT_INIT_FAILED


def _run(args: list[str], stdio: tuple[int, int, int], console: bool, workdir: str) -> Started:
    """Run a detaching runc command; return the pid it wrote and the console master it sent."""
    pid_file = os.path.join(workdir, "pid")
    log_path = os.path.join(workdir, "log")
    cmd = _base_args(log_path) + args[:1] + ["--pid-file", pid_file] + args[1:]
    listener = None
    master = None
    if console:
        sock_path = os.path.join(workdir, "console.sock")
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(sock_path)
        listener.listen(1)
        cmd[-1:-1] = ["--console-socket", sock_path]
    proc = subprocess.Popen(cmd, stdin=stdio[0], stdout=stdio[1], stderr=stdio[2])
    try:
        if listener is not None:
            listener.settimeout(30)
            try:
                conn, _peer = listener.accept()
                with conn:
                    _data, fds, _flags, _peer = socket.recv_fds(conn, 1024, 1)
                    master = fds[0] if fds else None
            except OSError:
                master = None  # runc failed before sending; its exit status says why
        code = proc.wait()
    finally:
        if listener is not None:
            listener.close()
    if code != 0:
        if master is not None:
            os.close(master)
        message = _log_error(log_path) or f"runc exited {code}"
        raise StartError(f"runc: {message}", _classify(message))
    with open(pid_file) as f:
        return Started(int(f.read().strip()), master)


def start(bundle_dir: str, stdin: int, stdout: int, stderr: int, console: bool = False) -> Started:
    spec = load_spec(bundle_dir)
    if bool(spec["process"].get("terminal")) != console:
        raise InvalidArgument("with runc, console must match process.terminal in config.json")
    _require_subreaper()
    cid = container_id(bundle_dir, spec)
    with tempfile.TemporaryDirectory(prefix="berth-runc-") as workdir:
        try:
            return _run(["run", "--detach", "--bundle", os.path.abspath(bundle_dir), cid],
                        (stdin, stdout, stderr), console, workdir)
        except StartError:
            _runc_delete(cid, force=True)
            raise


def exec_in(pid: int, process: Mapping[str, Any], stdin: int, stdout: int, stderr: int,
            console: bool = False) -> Started:
    if bool(process.get("terminal")) != console:
        raise InvalidArgument("with runc, console must match process.terminal")
    _require_subreaper()
    cid = _id_of_pid(pid)
    with tempfile.TemporaryDirectory(prefix="berth-runc-") as workdir:
        process_path = os.path.join(workdir, "process.json")
        with open(process_path, "w") as f:
            json.dump(process, f)
        return _run(["exec", "--detach", "--process", process_path, cid],
                    (stdin, stdout, stderr), console, workdir)


def _id_of_pid(pid: int) -> str:
    with tempfile.TemporaryDirectory(prefix="berth-runc-") as workdir:
        out = subprocess.run(_base_args(os.path.join(workdir, "log")) + ["list", "--format", "json"],
                             capture_output=True, check=False)
    for entry in json.loads(out.stdout or b"null") or []:
        if entry.get("pid") == pid:
            return entry["id"]
    raise NotFound(f"no runc container with pid {pid}")


def _runc_delete(cid: str, force: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="berth-runc-") as workdir:
        log_path = os.path.join(workdir, "log")
        args = ["delete"] + (["--force"] if force else []) + [cid]
        proc = subprocess.run(_base_args(log_path) + args, capture_output=True, check=False)
        if proc.returncode != 0:
            message = _log_error(log_path) or proc.stderr.decode(errors="replace").strip()
            if "does not exist" not in message and "not exist" not in message:
                raise BerthError(f"runc delete {cid}: {message}")


def delete(bundle_dir: str, force: bool = False) -> None:
    _runc_delete(container_id(bundle_dir), force)
