"""The flags of ``berth create`` / ``berth run`` and their translation into a ContainerSpec."""
from __future__ import annotations

import argparse
from typing import Any


def add_create_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("image", metavar="IMAGE")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    p.add_argument("--name", help="assign a name to the container")
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("-e", "--env", action="append", default=[], help="set environment variables")
    p.add_argument("--env-file", action="append", default=[], help="read a file of environment "
                   "variables")
    p.add_argument("-w", "--workdir", default="", help="working directory inside the container")
    p.add_argument("-u", "--user", default="", help="username or UID (format: <name|uid>[:<group|gid>])")
    p.add_argument("-h", "--hostname", default="", help="container host name")
    p.add_argument("--entrypoint", default=None, help="overwrite the default ENTRYPOINT of the image")
    p.add_argument("--init", action="store_true", help="run an init inside the container that "
                   "forwards signals and reaps processes")
    p.add_argument("--restart", default="no", help="restart policy to apply when a container exits")
    p.add_argument("--rm", action="store_true", help="automatically remove the container when it exits")
    p.add_argument("-m", "--memory", help="memory limit")
    p.add_argument("--memory-swap", help="swap limit equal to memory plus swap: -1 = unlimited")
    p.add_argument("--cpus", type=float, help="number of CPUs")
    p.add_argument("-c", "--cpu-shares", type=int, help="CPU shares (relative weight)")
    p.add_argument("--cpuset-cpus", default="", help="CPUs in which to allow execution (0-3, 0,1)")
    p.add_argument("--pids-limit", type=int, help="tune container pids limit (-1 for unlimited)")
    p.add_argument("--device", action="append", default=[], help="add a host device")
    p.add_argument("--privileged", action="store_true", help="give extended privileges")
    p.add_argument("--cap-add", action="append", default=[], help="add Linux capabilities")
    p.add_argument("--cap-drop", action="append", default=[], help="drop Linux capabilities")
    p.add_argument("--read-only", action="store_true", help="mount the root filesystem read-only")
    p.add_argument("--ipc", default="private", help="IPC mode to use")
    p.add_argument("--ulimit", action="append", default=[], help="ulimit options")
    p.add_argument("--stop-signal", default="", help="signal to stop the container")
    p.add_argument("--stop-timeout", type=int, help="timeout (in seconds) to stop a container")
    p.add_argument("-l", "--label", action="append", default=[], help="set meta data")
    p.add_argument("--label-file", action="append", default=[], help="read a file of labels")
    p.add_argument("--network", "--net", default="default", help="connect a container to a network")
    p.add_argument("-v", "--volume", action="append", default=[],
                   help="bind mount a volume: [NAME|/HOST:]/CTR[:ro|rw|nocopy|PROPAGATION]")
    p.add_argument("--mount", action="append", default=[],
                   help="attach a filesystem mount: type=bind|volume|tmpfs,source=,target=,readonly")
    p.add_argument("--tmpfs", action="append", default=[],
                   help="mount a tmpfs directory: /CTR[:size=64m,mode=1777,...]")
    p.add_argument("--volumes-from", action="append", default=[],
                   help="mount volumes from the specified container(s): CONTAINER[:ro|rw]")
    p.add_argument("-p", "--publish", action="append", default=[],
                   help="publish a container's port(s) to the host")
    add_network_flags(p)
    add_health_and_log_flags(p)
    p.add_argument("--runtime", default="berth", choices=["berth", "runc"],
                   help="runtime to use for this container")


def build_spec(args: argparse.Namespace) -> Any:
    from ..container import spec as cs
    from ..volume import parse_mount, parse_tmpfs

    env: list[str] = []
    for path in args.env_file:
        env += cs.parse_env_file(path)
    env += cs.parse_env_args(args.env)
    labels: dict[str, str] = {}
    for path in args.label_file:
        labels.update(cs.parse_label_file(path))
    labels.update(cs.parse_labels(args.label))
    policy, retries = cs.parse_restart(args.restart)
    ulimits = dict(cs.parse_ulimit(u) for u in args.ulimit)
    command = list(args.command) or None
    if command and command[0] == "--":
        command = command[1:] or None
    entrypoint = None
    if args.entrypoint is not None:
        entrypoint = [args.entrypoint] if args.entrypoint else []
    return cs.ContainerSpec(
        image=args.image, command=command, entrypoint=entrypoint, env=env, workdir=args.workdir,
        user=args.user, hostname=args.hostname, labels=labels, tty=args.tty,
        interactive=args.interactive, init=args.init, auto_remove=args.rm,
        restart_policy=policy, restart_max_retries=retries,
        memory=cs.parse_size(args.memory) if args.memory else None,
        memory_swap=cs.parse_memory_swap(args.memory_swap) if args.memory_swap else None,
        cpus=args.cpus, cpu_shares=args.cpu_shares, cpuset_cpus=args.cpuset_cpus,
        pids_limit=args.pids_limit, devices=list(args.device), privileged=args.privileged,
        cap_add=list(args.cap_add), cap_drop=list(args.cap_drop), read_only=args.read_only,
        ipc=args.ipc, ulimits=ulimits, stop_signal=args.stop_signal,
        stop_timeout=args.stop_timeout, network=args.network, binds=list(args.volume),
        mounts=[parse_mount(m) for m in args.mount],
        tmpfs=dict(parse_tmpfs(t) for t in args.tmpfs), volumes_from=list(args.volumes_from),
        publish=list(args.publish), runtime=args.runtime, **network_fields(args),
        **health_and_log_fields(args)).validate()


def add_health_and_log_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--health-cmd", help="command to run to check health")
    p.add_argument("--health-interval", help="time between running the check (ms|s|m|h)")
    p.add_argument("--health-timeout", help="maximum time to allow one check to run (ms|s|m|h)")
    p.add_argument("--health-retries", type=int,
                   help="consecutive failures needed to report unhealthy")
    p.add_argument("--health-start-period",
                   help="start period for the container to initialize before starting "
                   "health-retries countdown (ms|s|m|h)")
    p.add_argument("--no-healthcheck", action="store_true",
                   help="disable any container-specified HEALTHCHECK")
    p.add_argument("--log-driver", default="json-file", help="logging driver for the container")
    p.add_argument("--log-opt", action="append", default=[], help="log driver options")


def health_and_log_fields(args: argparse.Namespace) -> dict[str, Any]:
    from ..container.health import from_options
    from ..container.spec import check_log_driver
    from ..errors import InvalidArgument

    check_log_driver(args.log_driver)
    log_options = {}
    for item in args.log_opt:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"invalid log opt {item!r}: expected key=value")
        log_options[key] = value
    check = from_options(args.health_cmd, args.health_interval, args.health_timeout,
                         args.health_start_period, args.health_retries, args.no_healthcheck)
    return {"healthcheck": check, "log_options": log_options}


def add_network_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("-P", "--publish-all", action="store_true",
                   help="publish all exposed ports to random ports")
    p.add_argument("--expose", action="append", default=[], help="expose a port or a range")
    p.add_argument("--network-alias", "--net-alias", action="append", default=[],
                   help="add network-scoped alias for the container")
    p.add_argument("--ip", default="", help="IPv4 address (e.g., 172.30.100.104)")
    p.add_argument("--mac-address", default="", help="container MAC address")
    p.add_argument("--dns", action="append", default=[], help="set custom DNS servers")
    p.add_argument("--dns-search", action="append", default=[],
                   help="set custom DNS search domains")
    p.add_argument("--dns-option", "--dns-opt", action="append", default=[],
                   help="set DNS options")
    p.add_argument("--add-host", action="append", default=[],
                   help="add a custom host-to-IP mapping (host:ip)")
    p.add_argument("--link", action="append", default=[], help="add link to another container")


def network_fields(args: argparse.Namespace) -> dict[str, Any]:
    return {"publish_all": args.publish_all, "expose": list(args.expose),
            "network_aliases": list(args.network_alias), "ip": args.ip,
            "mac_address": args.mac_address, "dns": list(args.dns),
            "dns_search": list(args.dns_search), "dns_options": list(args.dns_option),
            "extra_hosts": list(args.add_host), "links": list(args.link)}
