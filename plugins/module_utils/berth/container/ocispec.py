"""From image config + ContainerSpec: the Docker-shaped ``Config`` (at create) and the OCI runtime
spec ``config.json`` (at start, once the rootfs is mounted and users can be resolved)."""
from __future__ import annotations

import os
import stat
from collections.abc import Mapping, Sequence
from typing import Any, Optional

from .. import runtime
from ..errors import InvalidArgument
from ..runtime.spec import DEFAULT_PATH
from . import health, mounts, users
from .layout import ContainerPaths
from .networking import Attachment
from .spec import ContainerSpec, signal_name

DEFAULT_STOP_TIMEOUT = 10
_RLIMITS = {
    "core": "RLIMIT_CORE", "cpu": "RLIMIT_CPU", "data": "RLIMIT_DATA", "fsize": "RLIMIT_FSIZE",
    "locks": "RLIMIT_LOCKS", "memlock": "RLIMIT_MEMLOCK", "msgqueue": "RLIMIT_MSGQUEUE",
    "nice": "RLIMIT_NICE", "nofile": "RLIMIT_NOFILE", "nproc": "RLIMIT_NPROC",
    "rss": "RLIMIT_RSS", "rtprio": "RLIMIT_RTPRIO", "rttime": "RLIMIT_RTTIME",
    "sigpending": "RLIMIT_SIGPENDING", "stack": "RLIMIT_STACK", "as": "RLIMIT_AS",
}


def merge_env(base: Sequence[str], override: Sequence[str]) -> list[str]:
    """Image Env then the user's: a later KEY replaces an earlier one in place."""
    out: dict[str, str] = {}
    for item in list(base) + list(override):
        out[item.split("=", 1)[0]] = item
    return list(out.values())


def docker_config(spec: ContainerSpec, image_config: Mapping[str, Any], hostname: str,
                  image_ref: str) -> dict[str, Any]:
    """The container's ``Config`` as ``docker inspect`` shows it (Entrypoint/Cmd rules applied)."""
    img = image_config.get("config") or {}
    if spec.entrypoint is not None:
        entrypoint = list(spec.entrypoint) or None
        cmd = list(spec.command) if spec.command else None  # --entrypoint clears the image's Cmd
    else:
        entrypoint = list(img.get("Entrypoint") or []) or None
        cmd = list(spec.command) if spec.command else (list(img.get("Cmd") or []) or None)
    if not (entrypoint or cmd):
        raise InvalidArgument("No command specified")
    env = merge_env(img.get("Env") or [], spec.env)
    if not any(e.startswith("PATH=") for e in env):
        env.insert(0, DEFAULT_PATH)
    labels = dict(img.get("Labels") or {})
    labels.update(spec.labels)
    stop_signal = spec.stop_signal or img.get("StopSignal") or "SIGTERM"
    config = {
        "Hostname": hostname,
        "Domainname": "",
        "User": spec.user or img.get("User") or "",
        "AttachStdin": spec.interactive,
        "AttachStdout": True,
        "AttachStderr": True,
        "ExposedPorts": img.get("ExposedPorts") or None,
        "Tty": spec.tty,
        "OpenStdin": spec.interactive,
        "StdinOnce": spec.interactive,
        "Env": env,
        "Cmd": cmd,
        "Image": image_ref,
        "Volumes": img.get("Volumes") or None,
        "WorkingDir": spec.workdir or img.get("WorkingDir") or "",
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": labels,
        "StopSignal": signal_name(stop_signal),
        "StopTimeout": spec.stop_timeout,
    }
    check = health.merge(spec.healthcheck, img.get("Healthcheck"))
    if check is not None:
        config["Healthcheck"] = check
    return config


def process_args(config: Mapping[str, Any]) -> list[str]:
    return list(config.get("Entrypoint") or []) + list(config.get("Cmd") or [])


def stop_timeout(config: Mapping[str, Any]) -> int:
    value = config.get("StopTimeout")
    return DEFAULT_STOP_TIMEOUT if value is None else int(value)


def _device(text: str) -> tuple[dict[str, Any], dict[str, Any]]:
    parts = text.split(":")
    host = parts[0]
    dest = parts[1] if len(parts) > 1 and parts[1].startswith("/") else host
    perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
    if not set(perms) <= set("rwm") or not perms:
        raise InvalidArgument(f"invalid device mode: {perms}")
    try:
        st = os.stat(host)
    except OSError:
        raise InvalidArgument(f"error gathering device information while adding custom device "
                              f"\"{host}\": no such file or directory") from None
    if stat.S_ISCHR(st.st_mode):
        dtype = "c"
    elif stat.S_ISBLK(st.st_mode):
        dtype = "b"
    else:
        raise InvalidArgument(f"{host} is not a device")
    major, minor = os.major(st.st_rdev), os.minor(st.st_rdev)
    node = {"path": dest, "type": dtype, "major": major, "minor": minor,
            "fileMode": stat.S_IMODE(st.st_mode), "uid": st.st_uid, "gid": st.st_gid}
    rule = {"allow": True, "type": dtype, "major": major, "minor": minor, "access": perms}
    return node, rule


def _set_rlimits(spec: dict[str, Any], ulimits: Mapping[str, Sequence[int]]) -> None:
    rlimits = {r["type"]: r for r in spec["process"].get("rlimits") or []}
    for name, (soft, hard) in ulimits.items():
        key = _RLIMITS.get(name)
        if key is None:
            raise InvalidArgument(f"invalid ulimit type: {name}")
        rlimits[key] = {"type": key, "soft": int(soft), "hard": int(hard)}
    spec["process"]["rlimits"] = list(rlimits.values())


def _namespace_mode(spec: dict[str, Any], ns_type: str, host: bool) -> None:
    if host:
        spec["linux"]["namespaces"] = [n for n in spec["linux"]["namespaces"]
                                       if n["type"] != ns_type]


def runtime_spec(cid: str, cspec: ContainerSpec, config: Mapping[str, Any], paths: ContainerPaths,
                 net: Attachment, ipc_pid: Optional[int] = None,
                 mount_points: Sequence[mounts.MountPoint] = ()) -> dict[str, Any]:
    """The OCI spec for ``berth.runtime.start``; the rootfs must be mounted (users resolve here)."""
    user = users.resolve(paths.rootfs, config.get("User") or "")
    env = users.home_env(list(config.get("Env") or []), user.home)
    hostname = config.get("Hostname") or cid[:12]
    if not any(e.startswith("HOSTNAME=") for e in env):
        env.append(f"HOSTNAME={hostname}")
    args = process_args(config)
    if cspec.init:
        args = [mounts.INIT_PATH, "--"] + args
    spec = runtime.default_spec(args, env, config.get("WorkingDir") or "/",
                                f"{user.uid}:{user.gid}", hostname, paths.rootfs, cspec.tty,
                                paths.cgroup_path)
    if user.additional_gids:
        spec["process"]["user"]["additionalGids"] = user.additional_gids
    spec["annotations"] = {"berth.id": cid}
    for dest, source in (("/etc/resolv.conf", paths.resolv_conf),
                         ("/etc/hostname", paths.hostname), ("/etc/hosts", paths.hosts)):
        spec["mounts"].append({"destination": dest, "type": "bind", "source": source,
                               "options": ["rbind", "rprivate"]})
    spec["mounts"] += mounts.oci_mounts(mount_points)
    if cspec.init:
        spec["mounts"].append(mounts.init_mount())
    if cspec.privileged:
        runtime.apply_privileged(spec)
    if cspec.cap_add or cspec.cap_drop:
        runtime.apply_caps(spec, cspec.cap_add, cspec.cap_drop)
    runtime.apply_read_only(spec, cspec.read_only)
    runtime.apply_resources(spec, memory=cspec.memory, memory_swap=cspec.memory_swap,
                            cpu_shares=cspec.cpu_shares, cpus=cspec.cpus,
                            cpuset_cpus=cspec.cpuset_cpus or None, pids_limit=cspec.pids_limit)
    for text in cspec.devices:
        node, rule = _device(text)
        spec["linux"]["devices"].append(node)
        spec["linux"]["resources"]["devices"].append(rule)
    _set_rlimits(spec, cspec.ulimits)
    if cspec.ipc == "host":
        _namespace_mode(spec, "ipc", True)
    elif cspec.ipc.startswith("container:"):
        if not ipc_pid:
            raise InvalidArgument(f"cannot join IPC of a non running container: {cspec.ipc[10:]}")
        runtime.join_namespace(spec, "ipc", f"/proc/{ipc_pid}/ns/ipc")
    if net.host:
        _namespace_mode(spec, "network", True)
        spec["hostname"] = hostname
    elif net.netns_path:
        runtime.join_namespace(spec, "network", net.netns_path)
    return spec
