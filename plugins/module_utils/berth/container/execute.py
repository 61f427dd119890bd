"""``berth exec``: run a process inside a running container (its namespaces and cgroups)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from .. import runtime
from ..errors import Conflict, InvalidArgument
from . import users
from .ocispec import merge_env
from .records import Container
from .service import ContainerService


def exec_process(service: ContainerService, c: Container, cmd: Sequence[str], tty: bool = False,
                 user: str = "", workdir: str = "", env: Sequence[str] = ()) -> dict[str, Any]:
    """The OCI process object for an exec: the container's env, caps and limits, then overrides."""
    if not cmd:
        raise InvalidArgument("no command specified")
    if workdir and not workdir.startswith("/"):
        raise InvalidArgument(f"the working directory '{workdir}' is invalid, it needs to be an "
                              "absolute path")
    paths = service.paths(c.id)
    with open(paths.config_json) as f:
        base = json.load(f)["process"]
    who = users.resolve(paths.rootfs, user or c.config.get("User") or "")
    process_env = merge_env([e for e in base.get("env") or [] if not e.startswith("HOME=")],
                            list(env))
    process_env = users.home_env(process_env, who.home)
    if tty and not any(e.startswith("TERM=") for e in process_env):
        process_env.append("TERM=xterm")
    process = dict(base)
    process.update(terminal=tty, args=list(cmd), env=process_env,
                   cwd=workdir or base.get("cwd") or "/",
                   user={"uid": who.uid, "gid": who.gid, "additionalGids": who.additional_gids})
    return process


def start_exec(service: ContainerService, ref: str, cmd: Sequence[str], stdio: Sequence[int],
               tty: bool = False, user: str = "", workdir: str = "",
               env: Sequence[str] = ()) -> runtime.Started:
    """Start ``cmd`` in the running container ``ref``; the caller becomes a child subreaper and
    reaps the returned pid (its exit status is the exec's exit code)."""
    c = service.resolve(ref)
    if c.status == "paused":
        raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
    if c.status != "running":
        raise Conflict(f"Container {c.id} is not running")
    process = exec_process(service, c, cmd, tty, user, workdir, env)
    if not runtime.is_child_subreaper():
        runtime.set_child_subreaper()
    rt = runtime.runtime_for(c.spec.runtime)
    return rt.exec_in(int(c.state["pid"]), process, stdio[0], stdio[1], stdio[2], console=tty)
