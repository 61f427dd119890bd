"""Docker Engine API v1.41 JSON shapes, in one place: the create body <-> ``ContainerSpec``, list
rows, ``/version`` and ``/info``.

The same two functions (``spec_from_create`` and ``create_body``) serve the daemon and the CLI's
client mode, so a container created through berthd keeps every option the CLI knows.
"""
from __future__ import annotations

import os
import platform
import threading
from collections.abc import Mapping
from typing import Any

from .. import __version__
from ..errors import InvalidArgument

API_VERSION = "1.41"
MIN_API_VERSION = "1.12"


# -- system ---------------------------------------------------------------------------------------

def version_doc() -> dict[str, Any]:
    uname = os.uname()
    arch = {"x86_64": "amd64", "aarch64": "arm64"}.get(uname.machine, uname.machine)
    return {
        "Platform": {"Name": "berth.engine"},
        "Components": [{"Name": "Engine", "Version": __version__,
                        "Details": {"ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
                                    "Os": "linux", "Arch": arch, "KernelVersion": uname.release,
                                    "Experimental": "false", "GitCommit": "", "GoVersion":
                                    f"python{platform.python_version()}"}}],
        "Version": __version__, "ApiVersion": API_VERSION, "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": "", "GoVersion": f"python{platform.python_version()}", "Os": "linux",
        "Arch": arch, "KernelVersion": uname.release, "BuildTime": "",
    }


def info_doc(store: Any, containers: list[Any], images: int, cgroup_version: str) -> dict[str, Any]:
    uname = os.uname()
    states = [c.status for c in containers]
    return {
        "ID": store.root, "Name": uname.nodename, "ServerVersion": __version__,
        "Containers": len(states), "ContainersRunning": states.count("running"),
        "ContainersPaused": states.count("paused"),
        "ContainersStopped": len(states) - states.count("running") - states.count("paused"),
        "Images": images, "Driver": "overlay2", "DriverStatus": [["Backing Filesystem", "overlay"]],
        "DockerRootDir": store.root, "ExecutionDriver": "", "LoggingDriver": "json-file",
        "CgroupDriver": "cgroupfs", "CgroupVersion": cgroup_version,
        "KernelVersion": uname.release, "OperatingSystem": _os_name(), "OSType": "linux",
        "OSVersion": "", "Architecture": uname.machine, "NCPU": os.cpu_count() or 1,
        "MemTotal": _mem_total(), "IndexServerAddress": "https://index.docker.io/v1/",
        "RegistryConfig": {"InsecureRegistryCIDRs": [], "IndexConfigs": {}, "Mirrors": []},
        "Runtimes": {"berth": {"path": "berth"}, "runc": {"path": "runc"}},
        "DefaultRuntime": "berth", "Swarm": {"LocalNodeState": "inactive"},
        "Plugins": {"Volume": ["local"], "Network": ["bridge", "host", "null"],
                    "Log": ["json-file"]},
        "MemoryLimit": True, "SwapLimit": True, "CpuCfsPeriod": True, "CpuCfsQuota": True,
        "CPUShares": True, "CPUSet": True, "PidsLimit": True, "IPv4Forwarding": True,
        "Debug": False, "NFd": len(os.listdir("/proc/self/fd")), "NGoroutines": threading.active_count(),
        "SystemTime": _now(), "Labels": [], "ExperimentalBuild": False, "SecurityOptions": [],
        "Warnings": None,
    }


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return "Linux"


def _mem_total() -> int:
    try:
        with open("/proc/meminfo") as f:
            return int(f.readline().split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return 0


def _now() -> str:
    from ..container.service import now_rfc3339

    return now_rfc3339()


# -- containers -----------------------------------------------------------------------------------

def container_summary(c: Any) -> dict[str, Any]:
    """One row of ``GET /containers/json``."""
    from ..container.inspect import status_text, unix_time
    from ..container.mounts import docker_mounts
    from ..container.ocispec import process_args

    mode = c.state.get("network") or "none"
    ip = c.state.get("ip") or ""
    return {
        "Id": c.id, "Names": ["/" + c.name], "Image": c.image_ref, "ImageID": c.image_id,
        "Command": " ".join(process_args(c.config)), "Created": int(unix_time(c.created)),
        "Ports": ports_list(c.state.get("ports") or {}),
        "Labels": dict(c.config.get("Labels") or {}), "State": c.status,
        "Status": status_text(c),
        "HostConfig": {"NetworkMode": c.spec.network if c.spec.network != "default" else "bridge"},
        "NetworkSettings": {"Networks": {mode: {"NetworkID": "", "IPAddress": ip, "Gateway": "",
                                                "MacAddress": ""}}},
        "Mounts": docker_mounts(c),
    }


def ports_list(ports: Mapping[str, Any]) -> list[dict[str, Any]]:
    out = []
    for key, bindings in sorted(ports.items()):
        port, _sep, proto = key.partition("/")
        if not bindings:
            out.append({"PrivatePort": int(port), "Type": proto or "tcp"})
        for b in bindings or []:
            out.append({"IP": b.get("HostIp") or "0.0.0.0", "PrivatePort": int(port),
                        "PublicPort": int(b.get("HostPort") or 0), "Type": proto or "tcp"})
    return out


def _publish_from_bindings(bindings: Mapping[str, Any]) -> list[str]:
    out = []
    for key, entries in sorted((bindings or {}).items()):
        port, _sep, proto = key.partition("/")
        suffix = f"/{proto}" if proto and proto != "tcp" else ""
        for b in entries or [{}]:
            host_ip, host_port = (b or {}).get("HostIp") or "", (b or {}).get("HostPort") or ""
            text = f"{host_port}:{port}" if host_port or host_ip else port
            out.append((f"{host_ip}:{text}" if host_ip else text) + suffix)
    return out


def _bindings_from_publish(publish: list[str]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    if not publish:
        return out  # the CLI's client mode need not import berth.network
    from ..network import parse_publish

    for text in publish:
        for m in parse_publish(text):
            first, last = m.host_port_range
            port = f"{first}-{last}" if last > first else (str(m.host_port) if m.host_port else "")
            out.setdefault(m.key, []).append({"HostIp": m.host_ip, "HostPort": port})
    return out


def _mount_from_docker(m: Mapping[str, Any]) -> dict[str, Any]:
    """HostConfig.Mounts entry -> berth's structured ``--mount``."""
    vol = m.get("VolumeOptions") or {}
    tmp = m.get("TmpfsOptions") or {}
    driver = vol.get("DriverConfig") or {}
    return {"type": (m.get("Type") or "volume").lower(), "source": m.get("Source") or "",
            "target": m.get("Target") or "", "read_only": bool(m.get("ReadOnly")),
            "propagation": (m.get("BindOptions") or {}).get("Propagation") or "",
            "no_copy": bool(vol.get("NoCopy")), "volume_driver": driver.get("Name") or "",
            "volume_labels": dict(vol.get("Labels") or {}),
            "volume_options": dict(driver.get("Options") or {}),
            "tmpfs_size": tmp.get("SizeBytes") or None, "tmpfs_mode": tmp.get("Mode") or None}


def _mount_to_docker(m: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"Type": m.get("type") or "volume", "Source": m.get("source") or "",
                           "Target": m.get("target") or "", "ReadOnly": bool(m.get("read_only"))}
    if m.get("propagation"):
        out["BindOptions"] = {"Propagation": m["propagation"]}
    if m.get("no_copy") or m.get("volume_labels") or m.get("volume_driver") or \
            m.get("volume_options"):
        out["VolumeOptions"] = {"NoCopy": bool(m.get("no_copy")),
                                "Labels": dict(m.get("volume_labels") or {}),
                                "DriverConfig": {"Name": m.get("volume_driver") or "",
                                                 "Options": dict(m.get("volume_options") or {})}}
    if m.get("tmpfs_size") or m.get("tmpfs_mode"):
        out["TmpfsOptions"] = {"SizeBytes": m.get("tmpfs_size") or 0,
                               "Mode": m.get("tmpfs_mode") or 0}
    return out


def _device_text(d: Any) -> str:
    if isinstance(d, str):
        return d
    host = d.get("PathOnHost") or ""
    ctr = d.get("PathInContainer") or host
    perms = d.get("CgroupPermissions") or "rwm"
    return f"{host}:{ctr}:{perms}"


def _list(value: Any, what: str) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list):
        raise InvalidArgument(f"{what} must be a list of strings")
    return [str(v) for v in value]


def _log_options(config: Mapping[str, Any]) -> dict[str, str]:
    """HostConfig.LogConfig's options (json-file is the only driver)."""
    from ..container.spec import check_log_driver

    check_log_driver(config.get("Type"))
    return {str(k): str(v) for k, v in (config.get("Config") or {}).items()}


def spec_from_create(body: Mapping[str, Any]) -> Any:
    """``POST /containers/create``'s body -> a validated ``ContainerSpec``."""
    from ..container import ContainerSpec

    if not isinstance(body, Mapping):
        raise InvalidArgument("the create body must be a JSON object")
    hc = body.get("HostConfig") or {}
    entrypoint = body.get("Entrypoint")
    if entrypoint is not None:
        entrypoint = list(_list(entrypoint, "Entrypoint"))
        if entrypoint == [""]:
            entrypoint = []  # Docker's --entrypoint "": no entrypoint at all
    command = body.get("Cmd")
    restart = hc.get("RestartPolicy") or {}
    nano = hc.get("NanoCpus") or 0
    network = hc.get("NetworkMode") or "default"
    ipc = hc.get("IpcMode") or "private"
    runtime = hc.get("Runtime") or "berth"
    spec = ContainerSpec(
        image=str(body.get("Image") or ""),
        command=_list(command, "Cmd") or None if command is not None else None,
        entrypoint=entrypoint,
        env=_list(body.get("Env"), "Env"),
        workdir=body.get("WorkingDir") or "",
        user=body.get("User") or "",
        hostname=body.get("Hostname") or "",
        labels={str(k): str(v) for k, v in (body.get("Labels") or {}).items()},
        tty=bool(body.get("Tty")),
        interactive=bool(body.get("OpenStdin")),
        init=bool(hc.get("Init")),
        auto_remove=bool(hc.get("AutoRemove")),
        restart_policy=restart.get("Name") or "no",
        restart_max_retries=int(restart.get("MaximumRetryCount") or 0),
        memory=hc.get("Memory") or None,
        memory_swap=hc.get("MemorySwap") or None,
        cpus=nano / 1e9 if nano else None,
        cpu_shares=hc.get("CpuShares") or None,
        cpuset_cpus=hc.get("CpusetCpus") or "",
        pids_limit=hc.get("PidsLimit") or None,
        devices=[_device_text(d) for d in hc.get("Devices") or []],
        privileged=bool(hc.get("Privileged")),
        cap_add=_list(hc.get("CapAdd"), "CapAdd"),
        cap_drop=_list(hc.get("CapDrop"), "CapDrop"),
        read_only=bool(hc.get("ReadonlyRootfs")),
        ipc=ipc,
        ulimits={u["Name"]: [int(u["Soft"]), int(u["Hard"])] for u in hc.get("Ulimits") or []},
        stop_signal=body.get("StopSignal") or "",
        stop_timeout=body.get("StopTimeout"),
        network=network,
        binds=_list(hc.get("Binds"), "Binds"),
        mounts=[_mount_from_docker(m) for m in hc.get("Mounts") or []],
        tmpfs={str(k): str(v) for k, v in (hc.get("Tmpfs") or {}).items()},
        volumes_from=_list(hc.get("VolumesFrom"), "VolumesFrom"),
        publish=_publish_from_bindings(hc.get("PortBindings") or {}),
        runtime="berth" if runtime in ("runc-compatible", "io.containerd.runc.v2") else runtime,
        healthcheck=body.get("Healthcheck") or None,
        log_options=_log_options(hc.get("LogConfig") or {}),
    )
    if runtime not in ("berth", "runc", "runc-compatible", "io.containerd.runc.v2"):
        raise InvalidArgument(f"unknown runtime {runtime!r} (known: berth, runc)")
    return spec.validate()


def create_body(spec: Any) -> dict[str, Any]:
    """A ``ContainerSpec`` -> Docker's create body (the CLI's client mode sends this)."""
    exposed = {k: {} for k in _bindings_from_publish(spec.publish)}
    return {
        "Image": spec.image, "Cmd": spec.command,
        "Entrypoint": ([""] if spec.entrypoint == [] else spec.entrypoint),
        "Env": spec.env, "WorkingDir": spec.workdir, "User": spec.user,
        "Hostname": spec.hostname, "Labels": spec.labels, "Tty": spec.tty,
        "OpenStdin": spec.interactive, "AttachStdin": spec.interactive,
        "StopSignal": spec.stop_signal or None, "StopTimeout": spec.stop_timeout,
        "ExposedPorts": exposed or None,
        "HostConfig": {
            "Init": spec.init, "AutoRemove": spec.auto_remove,
            "RestartPolicy": {"Name": spec.restart_policy,
                              "MaximumRetryCount": spec.restart_max_retries},
            "Memory": spec.memory or 0, "MemorySwap": spec.memory_swap or 0,
            "NanoCpus": int(round((spec.cpus or 0) * 1e9)), "CpuShares": spec.cpu_shares or 0,
            "CpusetCpus": spec.cpuset_cpus, "PidsLimit": spec.pids_limit,
            "Devices": [_device_dict(d) for d in spec.devices],
            "Privileged": spec.privileged, "CapAdd": spec.cap_add, "CapDrop": spec.cap_drop,
            "ReadonlyRootfs": spec.read_only, "IpcMode": spec.ipc,
            "Ulimits": [{"Name": k, "Soft": v[0], "Hard": v[1]} for k, v in spec.ulimits.items()],
            "NetworkMode": spec.network, "Binds": spec.binds,
            "Mounts": [_mount_to_docker(m) for m in spec.mounts], "Tmpfs": spec.tmpfs,
            "VolumesFrom": spec.volumes_from,
            "PortBindings": _bindings_from_publish(spec.publish),
            "Runtime": spec.runtime,
        },
    }


def _device_dict(text: str) -> dict[str, str]:
    from ..container.inspect import _device_entry

    return _device_entry(text)
