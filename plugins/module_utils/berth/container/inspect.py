"""Docker's shapes of a container: the ``inspect`` document and ``ps`` rows, status text, filters."""
from __future__ import annotations

import calendar
import re
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Optional

from ..errors import InvalidArgument
from ..units import human_duration
from . import health
from .layout import ContainerPaths
from .mounts import docker_mounts
from .ocispec import process_args
from .records import Container

PS_STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")
PS_FILTERS = ("id", "name", "label", "status", "ancestor", "exited", "health")


def unix_time(stamp: str) -> float:
    """RFC 3339 (nanoseconds allowed) -> seconds since the epoch; 0 for Go's zero time."""
    if not stamp or stamp.startswith("0001-"):
        return 0.0
    m = re.match(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?Z$", stamp)
    if not m:
        return 0.0
    base = calendar.timegm(time.strptime(m.group(1), "%Y-%m-%dT%H:%M:%S"))
    return base + float("0." + (m.group(2) or "0"))


def status_text(c: Container, now: Optional[float] = None) -> str:
    now = now or time.time()
    status = c.status
    if status == "created":
        return "Created"
    if status in ("running", "paused"):
        text = "Up " + human_duration(now - unix_time(c.state.get("started_at", "")))
        if status == "paused":
            return text + " (Paused)"
        checked = _health(c)
        if checked is not None:  # Docker's wording: (health: starting), (healthy), (unhealthy)
            status = checked["Status"]
            text += f" (health: {status})" if status == "starting" else f" ({status})"
        return text
    finished = unix_time(c.state.get("finished_at", ""))
    ago = human_duration(now - finished) + " ago" if finished else ""
    code = int(c.state.get("exit_code") or 0)
    if status == "restarting":
        return f"Restarting ({code}) {ago}".rstrip()
    return f"Exited ({code}) {ago}".rstrip()


def _command(c: Container, no_trunc: bool) -> str:
    text = " ".join(process_args(c.config))
    if not no_trunc and len(text) > 20:
        text = text[:19] + "…"
    return f'"{text}"'


def ps_row(c: Container, no_trunc: bool = False) -> dict[str, Any]:
    image = c.image_ref if not c.image_ref.startswith("sha256:") or no_trunc else c.image_ref[7:19]
    created = unix_time(c.created)
    labels = c.config.get("Labels") or {}
    return {
        "ID": c.id if no_trunc else c.short_id,
        "Image": image,
        "Command": _command(c, no_trunc),
        "CreatedAt": time.strftime("%Y-%m-%d %H:%M:%S +0000 UTC", time.gmtime(created)),
        "RunningFor": human_duration(time.time() - created) + " ago",
        "Status": status_text(c),
        "State": c.status,
        "Ports": ports_text(c),
        "Names": c.name,
        "Labels": ",".join(f"{k}={v}" for k, v in sorted(labels.items())),
        "Size": "",
        "Mounts": ",".join(m["Source"] for m in docker_mounts(c)),
        "Networks": ",".join(_network_names(c)),
    }


def parse_filters(items: Iterable[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep or key not in PS_FILTERS:
            raise InvalidArgument(f"invalid filter '{item}'")
        if key == "status" and value not in PS_STATUSES:
            raise InvalidArgument(f"invalid filter 'status={value}'")
        out.setdefault(key, []).append(value)
    return out


def matches(c: Container, filters: Mapping[str, Sequence[str]], image_ids: Mapping[str, str]) -> bool:
    """Docker's rules: values of one key are OR'ed, different keys AND'ed."""
    for key, values in filters.items():
        if key == "id" and not any(c.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(re.search(v, c.name) for v in values):
            return False
        if key == "status" and c.status not in values:
            return False
        if key == "exited" and not (c.status == "exited" and
                                    str(c.state.get("exit_code")) in values):
            return False
        if key == "label":
            labels = c.config.get("Labels") or {}
            for v in values:
                k, sep, want = v.partition("=")
                if k not in labels or (sep and labels[k] != want):
                    return False
        if key == "ancestor" and not any(c.image_ref == v or image_ids.get(v) == c.image_id or
                                         c.image_id[7:].startswith(v.replace("sha256:", ""))
                                         for v in values):
            return False
        if key == "health" and _health_status(c) not in values:
            return False
    return True


def _health(c: Container) -> Optional[dict[str, Any]]:
    """``State.Health`` of ``c`` (None: no active check)."""
    return health.docker_health(c.config.get("Healthcheck"), c.state)


def _health_status(c: Container) -> str:
    """What ``ps --filter health=`` matches: starting, healthy, unhealthy, or none."""
    checked = _health(c)
    return "none" if checked is None else checked["Status"]


def _host_config(c: Container, paths: ContainerPaths) -> dict[str, Any]:
    s = c.spec
    return {
        "Binds": list(s.binds) or None,
        "LogConfig": {"Type": "json-file", "Config": dict(s.log_options)},
        "NetworkMode": _network_mode(c),
        "PortBindings": _port_bindings(s.publish),
        "PublishAllPorts": s.publish_all,
        "Links": [_link_entry(c, link) for link in s.links] or None,
        "RestartPolicy": {"Name": s.restart_policy, "MaximumRetryCount": s.restart_max_retries},
        "AutoRemove": s.auto_remove,
        "CapAdd": list(s.cap_add) or None,
        "CapDrop": list(s.cap_drop) or None,
        "Dns": list(s.dns), "DnsOptions": list(s.dns_options), "DnsSearch": list(s.dns_search),
        "ExtraHosts": list(s.extra_hosts) or None,
        "IpcMode": s.ipc,
        "Privileged": s.privileged,
        "ReadonlyRootfs": s.read_only,
        "Init": s.init,
        "Runtime": s.runtime,
        "Memory": s.memory or 0,
        "MemorySwap": s.memory_swap if s.memory_swap is not None else
        (2 * s.memory if s.memory else 0),
        "NanoCpus": int(round((s.cpus or 0) * 1e9)),
        "CpuShares": s.cpu_shares or 0,
        "CpusetCpus": s.cpuset_cpus,
        "PidsLimit": s.pids_limit,
        "Devices": [_device_entry(d) for d in s.devices],
        "Ulimits": [{"Name": k, "Soft": v[0], "Hard": v[1]} for k, v in sorted(s.ulimits.items())]
        or None,
    }


def _device_entry(text: str) -> dict[str, str]:
    parts = text.split(":")
    dest = parts[1] if len(parts) > 1 and parts[1].startswith("/") else parts[0]
    perms = parts[-1] if len(parts) > 1 and not parts[-1].startswith("/") else "rwm"
    return {"PathOnHost": parts[0], "PathInContainer": dest, "CgroupPermissions": perms}


def inspect(c: Container, paths: ContainerPaths, lowerdirs: Sequence[str] = ()) -> dict[str, Any]:
    args = process_args(c.config)
    st = c.state
    status = c.status
    return {
        "Id": c.id,
        "Created": c.created,
        "Path": args[0] if args else "",
        "Args": args[1:],
        "State": {
            "Status": status,
            "Running": status in ("running", "paused"),
            "Paused": status == "paused",
            "Restarting": status == "restarting",
            "OOMKilled": bool(st.get("oom_killed")),
            "Dead": False,
            "Pid": int(st.get("pid") or 0) if status in ("running", "paused") else 0,
            "ExitCode": int(st.get("exit_code") or 0),
            "Error": st.get("error") or "",
            "StartedAt": st.get("started_at") or "0001-01-01T00:00:00Z",
            "FinishedAt": st.get("finished_at") or "0001-01-01T00:00:00Z",
            **_health_state(c),
        },
        "Image": c.image_id,
        "ResolvConfPath": paths.resolv_conf,
        "HostnamePath": paths.hostname,
        "HostsPath": paths.hosts,
        "LogPath": paths.log,
        "Name": "/" + c.name,
        "RestartCount": int(st.get("restart_count") or 0),
        "Driver": "overlay2",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": None,
        "HostConfig": _host_config(c, paths),
        "GraphDriver": {"Name": "overlay2", "Data": {
            "LowerDir": ":".join(lowerdirs), "UpperDir": paths.upper, "WorkDir": paths.work,
            "MergedDir": paths.rootfs}},
        "Mounts": docker_mounts(c),
        "Config": c.config,
        "NetworkSettings": network_settings(c),
    }


def _health_state(c: Container) -> dict[str, Any]:
    checked = _health(c)
    return {} if checked is None or c.status == "created" else {"Health": checked}


# -- networks -------------------------------------------------------------------------------------

_BLANK_ENDPOINT = {"IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "",
                   "EndpointID": "", "Gateway": "", "IPAddress": "", "IPPrefixLen": 0,
                   "IPv6Gateway": "", "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0,
                   "MacAddress": "", "DriverOpts": None}


def _mode(c: Container) -> str:
    mode = c.state.get("network") or c.spec.network
    return "bridge" if mode in ("", "default") else mode


def _network_mode(c: Container) -> str:
    mode = _mode(c)
    return "default" if mode == "bridge" and c.spec.network == "default" else mode


def _network_names(c: Container) -> list[str]:
    mode = _mode(c)
    if mode.startswith("container:"):
        return []
    if mode in ("host", "none"):
        return [mode]
    endpoints = c.state.get("endpoints")
    return list(endpoints) if endpoints is not None else [mode]


def network_settings(c: Container) -> dict[str, Any]:
    """Docker's ``NetworkSettings``: live addresses while the container runs (recorded at
    start), the names of its networks with empty addresses otherwise."""
    st = c.state
    live = st_live(c)
    recorded = (st.get("networks") or {}) if live else {}
    networks = {}
    for name in _network_names(c):
        entry = dict(_BLANK_ENDPOINT)
        entry.update(recorded.get(name) or {})
        if not live:
            aliases = ((st.get("endpoints") or {}).get(name) or {}).get("aliases")
            entry["Aliases"] = list(aliases) if aliases else None
        networks[name] = entry
    primary = networks.get("bridge") or dict(_BLANK_ENDPOINT)  # Docker: default bridge only
    netns = st.get("netns") or ""
    ports: dict[str, Any] = dict(st.get("ports") or {}) if live else {}
    return {
        "Bridge": "", "SandboxID": c.id if live and netns else "",
        "SandboxKey": netns if live else "", "HairpinMode": False,
        "LinkLocalIPv6Address": "", "LinkLocalIPv6PrefixLen": 0, "Ports": ports,
        "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        "EndpointID": primary["EndpointID"], "Gateway": primary["Gateway"],
        "GlobalIPv6Address": "", "GlobalIPv6PrefixLen": 0, "IPAddress": primary["IPAddress"],
        "IPPrefixLen": primary["IPPrefixLen"], "IPv6Gateway": "",
        "MacAddress": primary["MacAddress"], "Networks": networks,
    }


def _port_bindings(publish: Sequence[str]) -> dict[str, Any]:
    """``HostConfig.PortBindings`` from the ``-p`` values as given (host port "" = any)."""
    out: dict[str, Any] = {}
    for spec in publish:
        body, _sep, proto = spec.partition("/")
        parts = body.rsplit(":", 2) if not body.startswith("[") else \
            [body[1:body.index("]")]] + body[body.index("]") + 2:].split(":", 1)
        container, host, ip = parts[-1], parts[-2] if len(parts) > 1 else "", \
            parts[-3] if len(parts) > 2 else ""
        binding = {"HostIp": ip, "HostPort": host}
        out.setdefault(f"{container}/{proto or 'tcp'}", []).append(binding)
    return out


def _link_entry(c: Container, link: str) -> str:
    target, _sep, alias = link.partition(":")
    return f"/{target.lstrip('/')}:/{c.name}/{alias or target.lstrip('/')}"


def ports_text(c: Container) -> str:
    """``docker ps`` PORTS: ``0.0.0.0:8080->80/tcp, 443/tcp``."""
    if not st_live(c):
        return ""
    ports = c.state.get("ports") or {}
    out = []
    for key in sorted(ports, key=lambda k: (int(k.split("/")[0]), k)):
        bindings = ports[key]
        if not bindings:
            out.append(key)
        for b in bindings or []:
            out.append(f"{b.get('HostIp') or '0.0.0.0'}:{b.get('HostPort')}->{key}")
    return ", ".join(out)


def st_live(c: Container) -> bool:
    return c.running and not c.state.get("released")
