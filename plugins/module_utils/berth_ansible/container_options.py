"""The options of berth.engine.container, each declared once.

Options with a ``field`` set a field of the engine's ``ContainerSpec`` (the structured spec the
engine stores per container) and are compared with the stored spec when given; ``effective`` merges
the image's defaults in, so a value equal to what the image gives anyway is not a change. Options
without a ``field`` steer the module (state, pull policy, recreate...).
"""
from __future__ import annotations

import shlex
from typing import Any, Dict, List, Optional

from . import engine
from .options import BadOption, Option

STATES = ("present", "started", "stopped", "absent")
PULL = ("always", "missing", "never")
RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")


def _img(config: Dict[str, Any], key: str) -> Any:
    return (config or {}).get(key)


def _command(value: Any) -> List[str]:
    if isinstance(value, str):
        try:
            return shlex.split(value)
        except ValueError as exc:
            raise BadOption(f"command: {exc}") from None
    if isinstance(value, list):
        return [str(v) for v in value]
    raise BadOption("command must be a string or a list of strings")


def _env(value: Dict[str, Any]) -> List[str]:
    out = []
    for key, item in value.items():
        if isinstance(item, bool) or not isinstance(item, (str, int, float)):
            raise BadOption(f"env: the value of {key} must be a string (quote it: '{item}')")
        if not key or "=" in str(key):
            raise BadOption(f"env: invalid variable name {key!r}")
        out.append(f"{key}={item}")
    return out


def _env_dict(items: Optional[List[str]], config: Dict[str, Any]) -> Dict[str, str]:
    merged: Dict[str, str] = {}
    for item in list(_img(config, "Env") or []) + list(items or []):
        key, sep, val = item.partition("=")
        merged[key] = val if sep else ""
    return merged


def _strings(option: str) -> Any:
    """A dict option whose values must be strings (a YAML ``yes`` is refused, not made 'True')."""
    def convert(value: Dict[str, Any]) -> Dict[str, str]:
        for key, item in value.items():
            if isinstance(item, bool) or not isinstance(item, (str, int, float)):
                raise BadOption(f"{option}: the value of {key} must be a string (quote it: '{item}')")
        return {str(k): str(v) for k, v in value.items()}
    return convert


def _caps(value: List[str]) -> List[str]:
    caps = engine.submodule("runtime", "caps")
    try:
        return [caps.normalize(c) for c in value]
    except engine.errors().InvalidArgument as exc:
        raise BadOption(str(exc)) from None


def _size(parse: str) -> Any:
    def convert(value: str) -> int:
        try:
            return getattr(engine.load("container"), parse)(str(value))
        except engine.errors().InvalidArgument as exc:
            raise BadOption(str(exc)) from None
    return convert


def _env_file(path: str) -> List[str]:
    try:
        return engine.load("container").parse_env_file(path)
    except engine.errors().InvalidArgument as exc:
        raise BadOption(f"env_file: {exc}") from None


def _ulimits(value: List[str]) -> Dict[str, List[int]]:
    container = engine.load("container")
    out = {}
    for item in value:
        try:
            name, limits = container.parse_ulimit(item)
        except engine.errors().InvalidArgument as exc:
            raise BadOption(str(exc)) from None
        out[name] = limits
    return out


def _signal(value: Any, config: Dict[str, Any]) -> str:
    text = value or _img(config, "StopSignal") or "SIGTERM"
    try:
        return engine.load("container").signal_name(text)
    except engine.errors().InvalidArgument:
        return str(text)


def _or_image(key: str, empty: Any = None) -> Any:
    return lambda value, config: value if value not in (None, "") else (_img(config, key) or empty)


HEALTHCHECK_SUBOPTIONS = (
    Option("test", "raw", ("A string runs with C(/bin/sh -c) (C(CMD-SHELL)); a list is Docker's "
                           "form, C([CMD, prog, arg...]); V([NONE]) disables the image's check.")),
    Option("interval", "str", "Time between checks, C(30s), C(1m30s) (default 30s)."),
    Option("timeout", "str", "Time a check may take before it counts as failed (default 30s)."),
    Option("start_period", "str", "Time after the start during which failures do not count."),
    Option("retries", "int", "Failures in a row that make the container unhealthy (default 3)."),
)


def _healthcheck(value: Dict[str, Any]) -> Dict[str, Any]:
    health = engine.submodule("container", "health")
    test = value.get("test")
    try:
        if isinstance(test, list):
            durations = health.from_options(
                None, value.get("interval"), value.get("timeout"), value.get("start_period"),
                value.get("retries")) or {}
            return health.validate(dict(durations, Test=[str(t) for t in test]))
        if test is not None and not isinstance(test, str):
            raise BadOption("healthcheck.test must be a string or a list of strings")
        return health.from_options(test or None, value.get("interval"), value.get("timeout"),
                                   value.get("start_period"), value.get("retries")) or {}
    except engine.errors().InvalidArgument as exc:
        raise BadOption(f"healthcheck: {exc}") from None


NETWORK_SUBOPTIONS = (
    Option("name", "str", "Name of the network.", required=True),
    Option("aliases", "list", "DNS aliases of the container on this network.", elements="str"),
    Option("ipv4_address", "str", "Fixed IPv4 address on this network."),
)

MOUNT_SUBOPTIONS = (
    Option("target", "str", "Path in the container.", required=True),
    Option("source", "str", "Host path (V(bind)) or volume name (V(volume); none: anonymous)."),
    Option("type", "str", "Kind of mount.", choices=("bind", "volume", "tmpfs"), default="volume"),
    Option("read_only", "bool", "Mount read-only.", default=False),
    Option("propagation", "str", "Bind propagation.",
           choices=("private", "rprivate", "shared", "rshared", "slave", "rslave")),
    Option("no_copy", "bool", "Do not fill an empty volume with the image's content.",
           default=False),
    Option("tmpfs_size", "str", "Size of a V(tmpfs) mount, C(64m)."),
    Option("tmpfs_mode", "str", "Octal mode of a V(tmpfs) mount, C(1777)."),
)


def _mounts(value: List[Dict[str, Any]]) -> List[Dict[str, Any]]:
    """The structured form the engine keeps for ``--mount`` (the same checks as the CLI's)."""
    mount_point = engine.load("volume").mount_point
    out = []
    for item in value:
        mount = {"type": item["type"], "source": item.get("source") or "",
                 "target": item["target"], "read_only": bool(item.get("read_only")),
                 "propagation": item.get("propagation") or "",
                 "no_copy": bool(item.get("no_copy")), "volume_driver": "",
                 "volume_labels": {}, "volume_options": {}, "tmpfs_size": None,
                 "tmpfs_mode": None}
        try:
            if item.get("tmpfs_size"):
                mount["tmpfs_size"] = engine.load("container").parse_size(item["tmpfs_size"])
            if item.get("tmpfs_mode"):
                mount["tmpfs_mode"] = int(str(item["tmpfs_mode"]), 8)
            mount_point(mount)
        except ValueError:
            raise BadOption(f"mounts: invalid tmpfs_mode {item['tmpfs_mode']!r}") from None
        except engine.errors().InvalidArgument as exc:
            raise BadOption(f"mounts: {exc}") from None
        out.append(mount)
    return out


def _image_healthcheck(value: Any, config: Dict[str, Any]) -> Any:
    return engine.submodule("container", "health").merge(value, _img(config, "Healthcheck"))


MODULE_OPTIONS = (
    # -- what the module does -------------------------------------------------------------------
    Option("name", "str", "Name of the container.", required=True),
    Option("state", "str", ("V(present): the container exists (created, not started; a running one "
                            "keeps running, also when it is recreated).",
                            "V(started): it exists and runs. V(stopped): it exists and does not run.",
                            "V(absent): it does not exist."),
           choices=STATES, default="started"),
    Option("pull", "str", ("When to pull O(image): V(missing) when it is not in the image store, "
                           "V(always) every time (a new image ID for the tag recreates the "
                           "container), V(never)."), choices=PULL, default="missing"),
    Option("recreate", "bool", "Recreate the container even when its configuration matches.",
           default=False),
    Option("restart", "bool", "Restart a running container whose configuration matches.",
           default=False),
    Option("force_kill", "bool", "Kill the container (SIGKILL) instead of stopping it gracefully.",
           default=False),
    Option("keep_volumes", "bool", "Keep the container's anonymous volumes when it is removed.",
           default=True),
    Option("detach", "bool", ("With V(false), O(state=started) waits for the container to exit and "
                              "returns its output; a non-zero exit code fails the task."),
           default=True),
    Option("cleanup", "bool", "With O(detach=false), remove the container once it exited.",
           default=False),
    Option("comparisons", "dict", ("How each option is compared with the existing container: "
                                   "V(strict) (must be equal), V(ignore), or V(allow_more_present) "
                                   "(lists and dicts may hold more than asked for).",
                                   "Keys are option names (O(env), O(labels), O(image)...); options "
                                   "not given in the task are never compared.")),
    # -- the container's spec (compared with the stored spec) ------------------------------------
    Option("image", "str", ("Image to run; required unless O(state=absent). A new image ID for "
                            "this reference recreates the container."),
           comparison="strict", field="image"),
    Option("command", "raw", ("Command (the image's C(Cmd) when not given), a list or a string "
                              "split like a shell does."), comparison="strict", field="command",
           to_engine=_command, effective=_or_image("Cmd", [])),
    Option("entrypoint", "list", "Entrypoint; an empty list clears the image's.", elements="str",
           comparison="strict", field="entrypoint", effective=_or_image("Entrypoint", [])),
    Option("env_file", "path", ("File of C(KEY=VALUE) lines added to the environment (O(env) "
                                "wins); compared together with O(env)."),
           comparison="strict", compare_as="env", field="env", to_engine=_env_file),
    Option("env", "dict", ("Environment variables; values must be strings. Merged over the image's "
                           "C(Env): a variable equal to the image's is not a change."),
           comparison="strict", field="env", to_engine=_env, effective=_env_dict),
    Option("published_ports", "list", "Ports to publish, C([ip:][hostport:]containerport[/proto]).",
           elements="str", aliases=("ports",), comparison="strict", unordered=True, field="publish"),
    Option("publish_all_ports", "bool", "Publish every port the image exposes to a random host port.",
           comparison="strict", field="publish_all"),
    Option("exposed_ports", "list", "More ports to expose, C(port[/proto]) or a range.",
           elements="str", aliases=("expose",), comparison="strict", unordered=True, field="expose"),
    Option("volumes", "list", ("Volumes C([/host/path|volume-name:]/container/path[:ro|rw]); a named "
                               "volume that does not exist is created."), elements="str",
           comparison="strict", unordered=True, field="binds"),
    Option("tmpfs", "dict", "tmpfs mounts: container path -> mount options (C(size=64m,mode=1777)).",
           comparison="strict", field="tmpfs", to_engine=_strings("tmpfs")),
    Option("network_mode", "str", ("Network: V(none), V(host), V(default) (the default bridge), or "
                                   "the name of a network."),
           comparison="strict", field="network"),
    Option("network_aliases", "list", "DNS aliases of the container on its (user-defined) network.",
           elements="str", comparison="strict", unordered=True, field="network_aliases"),
    Option("ipv4_address", "str", "Fixed IPv4 address on a user-defined network.",
           comparison="strict", field="ip"),
    Option("networks", "list", ("User-defined networks with their aliases and addresses. The "
                                "first is the container's network (instead of O(network_mode), "
                                "O(network_aliases) and O(ipv4_address)); the container is "
                                "connected to the others and disconnected from any not listed, "
                                "without being recreated."), elements="dict",
           suboptions=NETWORK_SUBOPTIONS),
    Option("mac_address", "str", "MAC address of the container's interface.", comparison="strict",
           field="mac_address"),
    Option("dns_servers", "list", "DNS servers for C(/etc/resolv.conf).", elements="str",
           comparison="strict", unordered=True, field="dns"),
    Option("dns_search_domains", "list", "DNS search domains.", elements="str",
           comparison="strict", field="dns_search"),
    Option("dns_opts", "list", "Options for C(/etc/resolv.conf), for example C(ndots:2).",
           elements="str", comparison="strict", field="dns_options"),
    Option("etc_hosts", "dict", "Extra C(/etc/hosts) entries: host name -> IP address.",
           comparison="strict", unordered=True, field="extra_hosts",
           to_engine=lambda value: [f"{k}:{v}" for k, v in _strings("etc_hosts")(value).items()]),
    Option("restart_policy", "str", "Restart policy, applied by the container's monitor.",
           choices=RESTART_POLICIES, comparison="strict", field="restart_policy"),
    Option("restart_retries", "int", "Most restarts with O(restart_policy=on-failure).",
           comparison="strict", field="restart_max_retries"),
    Option("user", "str", "User (and group) to run as, C(name), C(uid[:gid]).",
           comparison="strict", field="user", effective=_or_image("User", "")),
    Option("working_dir", "str", "Working directory inside the container (absolute).",
           comparison="strict", field="workdir", effective=_or_image("WorkingDir", "")),
    Option("hostname", "str", "Host name; the short container ID when not given.",
           comparison="strict", field="hostname"),
    Option("labels", "dict", "Labels, merged over the image's.", comparison="strict",
           field="labels", to_engine=_strings("labels"),
           effective=lambda value, config: dict(_img(config, "Labels") or {}, **(value or {}))),
    Option("ipc_mode", "str", "IPC namespace: V(private), V(shareable), V(host), V(none), "
           "C(container:NAME).", comparison="strict", field="ipc"),
    Option("init", "bool", "Run an init process (tini) as PID 1 that reaps zombies.",
           comparison="strict", field="init"),
    Option("tty", "bool", "Allocate a pseudo terminal.", comparison="strict", field="tty"),
    Option("interactive", "bool", "Keep standard input open.", comparison="strict",
           field="interactive"),
    Option("stop_signal", "str", "Signal that stops the container (the image's or SIGTERM by "
           "default).", comparison="strict", field="stop_signal", effective=_signal),
    Option("stop_timeout", "int", "Seconds to wait after the stop signal before killing; also "
           "used when the module stops the container.", comparison="strict", field="stop_timeout"),
)

#: resources, privileges, health check and logging: documented in the doc fragment
#: ``berth.engine.container.runtime`` (plugins/doc_fragments/container.py) to keep the module short
RUNTIME_OPTIONS = (
    Option("memory", "str", "Memory limit, C(512m), C(1g)...", comparison="strict", field="memory",
           to_engine=_size("parse_size")),
    Option("memory_swap", "str", "Memory plus swap limit; V(-1) for unlimited swap.",
           comparison="strict", field="memory_swap", to_engine=_size("parse_memory_swap")),
    Option("cpus", "float", "Number of CPUs the container may use.", comparison="strict",
           field="cpus"),
    Option("cpu_shares", "int", "CPU shares (relative weight).", comparison="strict",
           field="cpu_shares"),
    Option("cpuset_cpus", "str", "CPUs the container may run on, C(0-2), C(0,3).",
           comparison="strict", field="cpuset_cpus"),
    Option("pids_limit", "int", "Most processes in the container.", comparison="strict",
           field="pids_limit"),
    Option("ulimits", "list", "Resource limits C(name=soft[:hard]), for example C(nofile=1024:2048).",
           elements="str", comparison="strict", unordered=True, field="ulimits", to_engine=_ulimits),
    Option("devices", "list", "Host devices C(/dev/host[:/dev/container[:rwm]]).", elements="str",
           comparison="strict", unordered=True, field="devices"),
    Option("privileged", "bool", "Run with every capability and device.", comparison="strict",
           field="privileged"),
    Option("capabilities", "list", "Capabilities to add (C(NET_ADMIN) or C(CAP_NET_ADMIN)).",
           elements="str", comparison="strict", unordered=True, field="cap_add", to_engine=_caps),
    Option("cap_drop", "list", "Capabilities to drop; V(ALL) drops every one.", elements="str",
           comparison="strict", unordered=True, field="cap_drop", to_engine=_caps),
    Option("read_only", "bool", "Mount the root filesystem read-only.", comparison="strict",
           field="read_only"),
    Option("healthcheck", "dict", ("Health check, over the image's C(HEALTHCHECK). The container's "
                                   "monitor runs it; C(State.Health) of RV(container) shows the "
                                   "result."), comparison="strict", field="healthcheck",
           to_engine=_healthcheck, effective=_image_healthcheck,
           suboptions=HEALTHCHECK_SUBOPTIONS),
    Option("log_options", "dict", "json-file log rotation: C(max-size) (C(10m)) and C(max-file).",
           comparison="strict", field="log_options", to_engine=_strings("log_options")),
    Option("mounts", "list", "Mounts in structured form (C(--mount)).", elements="dict",
           comparison="strict", unordered=True, field="mounts", to_engine=_mounts,
           suboptions=MOUNT_SUBOPTIONS),
    Option("volumes_from", "list", "Mount every volume of these containers, C(name[:ro|rw]).",
           elements="str", comparison="strict", unordered=True, field="volumes_from"),
)

OPTIONS = MODULE_OPTIONS + RUNTIME_OPTIONS
