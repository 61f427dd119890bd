"""The structured spec of a container: what the user asked for, option by option.

This value class (not a command line) is what the database keeps, so the Ansible modules can compare a
desired container with an existing one field by field. The parsers here turn Docker's flag syntax
(``32m``, ``on-failure:3``, ``nofile=1024:2048``) into the structured values.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any, Optional

from ..errors import InvalidArgument
from ..values import Value, asdict, field, fields

RESTART_POLICIES = ("no", "on-failure", "always", "unless-stopped")
NETWORK_MODES_BUILTIN = ("none", "host", "bridge", "default")
IPC_MODES = ("private", "shareable", "host", "none")
_UNITS = {"b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4, "p": 1024 ** 5}
_SIZE = re.compile(r"^(\d+(?:\.\d+)?)\s*([kmgtpb]?)b?$", re.IGNORECASE)


class ContainerSpec(Value):
    """Everything ``berth create``/``run`` accepts; ``None``/empty means "the default"."""

    image: str
    command: Optional[list[str]] = None       # None: the image's Cmd
    entrypoint: Optional[list[str]] = None    # None: the image's; []: none (``--entrypoint ""``)
    env: list[str] = field(default_factory=list)
    workdir: str = ""
    user: str = ""
    hostname: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    tty: bool = False
    interactive: bool = False
    init: bool = False
    auto_remove: bool = False
    restart_policy: str = "no"
    restart_max_retries: int = 0
    memory: Optional[int] = None              # bytes
    memory_swap: Optional[int] = None         # bytes, -1 unlimited
    cpus: Optional[float] = None
    cpu_shares: Optional[int] = None
    cpuset_cpus: str = ""
    pids_limit: Optional[int] = None
    devices: list[str] = field(default_factory=list)   # HOST[:CONTAINER[:PERMS]]
    privileged: bool = False
    cap_add: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    read_only: bool = False
    ipc: str = "private"
    ulimits: dict[str, list[int]] = field(default_factory=dict)  # name -> [soft, hard]
    stop_signal: str = ""
    stop_timeout: Optional[int] = None
    network: str = "default"
    binds: list[str] = field(default_factory=list)     # -v [/host|name:]/ctr[:ro|rw]
    mounts: list[dict[str, Any]] = field(default_factory=list)  # --mount, structured (parse_mount)
    tmpfs: dict[str, str] = field(default_factory=dict)  # --tmpfs /ctr -> "size=64m,mode=1777"
    volumes_from: list[str] = field(default_factory=list)  # CONTAINER[:ro|rw]
    publish: list[str] = field(default_factory=list)   # -p, handed to the network package
    publish_all: bool = False                          # -P: every EXPOSEd port
    expose: list[str] = field(default_factory=list)    # --expose 80[/udp] or 8000-8010
    network_aliases: list[str] = field(default_factory=list)
    ip: str = ""                                       # --ip (user networks only)
    mac_address: str = ""
    dns: list[str] = field(default_factory=list)
    dns_search: list[str] = field(default_factory=list)
    dns_options: list[str] = field(default_factory=list)
    extra_hosts: list[str] = field(default_factory=list)   # --add-host name:ip
    links: list[str] = field(default_factory=list)         # --link name[:alias]
    healthcheck: Optional[dict[str, Any]] = None  # Docker's Healthcheck, over the image's
    log_options: dict[str, str] = field(default_factory=dict)  # json-file: max-size, max-file
    runtime: str = "berth"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "ContainerSpec":
        known = set(fields(cls))
        return cls(**{k: v for k, v in data.items() if k in known})

    def validate(self) -> "ContainerSpec":
        """Check the values (not the image): raises InvalidArgument with one line."""
        if not self.image:
            raise InvalidArgument("an image is required")
        if self.restart_policy not in RESTART_POLICIES:
            raise InvalidArgument(f"invalid restart policy {self.restart_policy!r}")
        if self.restart_max_retries and self.restart_policy != "on-failure":
            raise InvalidArgument(f"maximum retry count cannot be used with restart policy "
                                  f"'{self.restart_policy}'")
        if self.restart_max_retries < 0:
            raise InvalidArgument("maximum retry count must be a positive integer")
        if self.auto_remove and self.restart_policy != "no":
            raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
        if self.workdir and not self.workdir.startswith("/"):
            raise InvalidArgument(f"the working directory '{self.workdir}' is invalid, it needs to "
                                  "be an absolute path")
        if not (self.ipc in IPC_MODES or self.ipc.startswith("container:")):
            raise InvalidArgument(f"invalid IPC mode: {self.ipc}")
        validate_network(self)
        for item in self.env:
            if not item or item.startswith("="):
                raise InvalidArgument(f"invalid environment variable: {item!r}")
        if self.stop_signal:
            signal_number(self.stop_signal)
        from .health import validate as validate_healthcheck
        from .mounts import requested

        self.healthcheck = validate_healthcheck(self.healthcheck)
        log_rotation(self.log_options)
        requested(self)
        return self


LOG_DRIVER = "json-file"
LOG_OPTIONS = ("max-size", "max-file")


def check_log_driver(name: Optional[str]) -> None:
    """Only json-file logs exist (Docker clients send an empty driver for the default)."""
    if name not in (None, "", LOG_DRIVER):
        raise InvalidArgument(f"logging driver {name!r} is not supported (berth writes "
                              f"{LOG_DRIVER} logs)")


def log_rotation(options: Mapping[str, str]) -> tuple[Optional[int], int]:
    """The json-file log options as (max bytes or None, files kept), checked like Docker's."""
    unknown = sorted(set(options) - set(LOG_OPTIONS))
    if unknown:
        raise InvalidArgument(f"unknown log opt '{unknown[0]}' for json-file log driver")
    size = parse_size(options["max-size"]) if options.get("max-size") else None
    files = 1
    if options.get("max-file"):
        text = str(options["max-file"])
        if not text.isdigit() or int(text) < 1:
            raise InvalidArgument("max-file cannot be less than 1")
        files = int(text)
        if files > 1 and size is None:
            raise InvalidArgument("max-file cannot be set without max-size")
    return size, files


def validate_network(spec: ContainerSpec) -> None:
    """The network options against the mode, with Docker's messages."""
    mode = spec.network
    if not mode:
        raise InvalidArgument("invalid network mode: ''")
    if mode.startswith("container:"):
        if not mode[len("container:"):]:
            raise InvalidArgument(f"invalid network mode: {mode}")
        for flag, value in (("hostname", spec.hostname), ("mac-address", spec.mac_address),
                            ("dns", spec.dns or spec.dns_search or spec.dns_options),
                            ("add-host", spec.extra_hosts), ("publish", spec.publish or
                                                             spec.publish_all),
                            ("link", spec.links), ("ip", spec.ip),
                            ("network-alias", spec.network_aliases)):
            if value:
                raise InvalidArgument(f"conflicting options: {flag} and the network mode")
    if mode in ("host", "none") and spec.links:
        raise InvalidArgument(f"conflicting options: link and the {mode} network mode")
    if mode in NETWORK_MODES_BUILTIN or mode.startswith("container:"):
        if spec.ip:
            raise InvalidArgument("user specified IP address is supported on user defined "
                                  "networks only")
        if spec.network_aliases:
            raise InvalidArgument("network-scoped alias is supported only for containers in "
                                  "user defined networks")
    if spec.ip:
        import ipaddress

        try:
            ipaddress.IPv4Address(spec.ip)
        except ValueError:
            raise InvalidArgument(f"invalid IPv4 address: {spec.ip}") from None
    if spec.mac_address:
        if not re.match(r"^([0-9a-fA-F]{2}:){5}[0-9a-fA-F]{2}$", spec.mac_address):
            raise InvalidArgument(f"invalid MAC address: {spec.mac_address}")
        if int(spec.mac_address[:2], 16) & 1:
            raise InvalidArgument(f"invalid MAC address: {spec.mac_address} is a multicast "
                                  "address")
        if mode in ("host", "none"):
            raise InvalidArgument(f"conflicting options: mac-address and the {mode} network mode")
    if spec.extra_hosts:
        from ..network import parse_add_host  # imported only when needed

        for entry in spec.extra_hosts:
            parse_add_host(entry)
    for link in spec.links:
        name, _sep, alias = link.partition(":")
        if not name or (":" in alias) or link.endswith(":"):
            raise InvalidArgument(f"invalid link format: {link!r}: want name[:alias]")
    for item in spec.expose:
        port, _sep, proto = item.partition("/")
        low, _sep, high = port.partition("-")
        if not low.isdigit() or (high and not high.isdigit()) or proto not in ("", "tcp", "udp"):
            raise InvalidArgument(f"invalid --expose {item!r}: want port[-port][/tcp|udp]")


def parse_size(text: str) -> int:
    """Docker's RAMInBytes: ``512``, ``32m``, ``1.5g`` (binary units)."""
    m = _SIZE.match(str(text).strip())
    if not m:
        raise InvalidArgument(f"invalid size: {text!r}")
    return int(float(m.group(1)) * _UNITS[(m.group(2) or "b").lower()])


def parse_memory_swap(text: str) -> int:
    return -1 if str(text).strip() == "-1" else parse_size(text)


def parse_restart(text: str) -> tuple[str, int]:
    """``no``, ``always``, ``unless-stopped``, ``on-failure[:N]`` -> (name, max retries)."""
    name, _sep, count = (text or "no").partition(":")
    if name not in RESTART_POLICIES:
        raise InvalidArgument(f"invalid restart policy {text!r}")
    if count:
        if name != "on-failure":
            raise InvalidArgument(f"maximum retry count cannot be used with restart policy '{name}'")
        try:
            retries = int(count)
        except ValueError:
            raise InvalidArgument(f"maximum retry count must be an integer: {text!r}") from None
        if retries < 0:
            raise InvalidArgument("maximum retry count must be a positive integer")
        return name, retries
    return name, 0


def parse_ulimit(text: str) -> tuple[str, list[int]]:
    """``nofile=1024[:2048]`` -> ("nofile", [1024, 2048])."""
    name, sep, values = text.partition("=")
    if not sep or not name or not values:
        raise InvalidArgument(f"invalid ulimit argument: {text!r}")
    soft_s, _sep, hard_s = values.partition(":")
    try:
        soft = int(soft_s)
        hard = int(hard_s) if hard_s else soft
    except ValueError:
        raise InvalidArgument(f"invalid ulimit argument: {text!r}") from None
    if soft > hard:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {text}")
    return name.strip().lower(), [soft, hard]


def parse_env_file(path: str) -> list[str]:
    """Docker's --env-file: KEY=VALUE lines, ``#`` comments, a bare KEY takes the caller's value."""
    import os

    out = []
    try:
        with open(path) as f:
            lines = f.read().splitlines()
    except OSError as e:
        raise InvalidArgument(f"open {path}: {e.strerror.lower()}") from None
    for line in lines:
        line = line.lstrip()
        if not line or line.startswith("#"):
            continue
        key, sep, value = line.partition("=")
        if not key.strip() or " " in key.strip():
            raise InvalidArgument(f"variable '{key}' contains whitespaces")
        if sep:
            out.append(f"{key}={value}")
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def parse_env_args(items: Iterable[str]) -> list[str]:
    """``-e KEY=VALUE`` as given; ``-e KEY`` takes the caller's value (dropped if unset)."""
    import os

    out = []
    for item in items:
        key, sep, _value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid environment variable: {item!r}")
        if sep:
            out.append(item)
        elif key in os.environ:
            out.append(f"{key}={os.environ[key]}")
    return out


def parse_labels(items: Iterable[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, _sep, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid label: {item!r}")
        labels[key] = value
    return labels


def parse_label_file(path: str) -> dict[str, str]:
    try:
        with open(path) as f:
            lines = [ln.strip() for ln in f.read().splitlines()]
    except OSError as e:
        raise InvalidArgument(f"open {path}: {e.strerror.lower()}") from None
    return parse_labels(ln for ln in lines if ln and not ln.startswith("#"))


def signal_number(name: str) -> int:
    """``SIGTERM``, ``TERM``, ``15`` -> 15."""
    import signal

    text = str(name).strip().upper()
    if text.isdigit():
        number = int(text)
        if 0 < number < 65:
            return number
    else:
        if not text.startswith("SIG"):
            text = "SIG" + text
        value = getattr(signal.Signals, text, None) if text in signal.Signals.__members__ else None
        if value is not None:
            return int(value)
        m = re.match(r"^SIGRTMIN(?:\+(\d+))?$", text)
        if m:
            return int(signal.SIGRTMIN) + int(m.group(1) or 0)
    raise InvalidArgument(f"invalid signal: {name}")


def signal_name(name: str) -> str:
    import signal

    number = signal_number(name)
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)
