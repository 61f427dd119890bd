"""Container verbs: create, run, start, stop, kill, restart, pause, unpause, rm, wait, exec, rename,
export, commit, system restore — and ``berth container <verb>`` for each. The read-only verbs (ps,
logs, inspect, top, stats, port) live in container_info.py."""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from . import container_info, networks, output
from .run_flags import add_create_flags, build_spec


def _service() -> Any:
    from ..container import ContainerService

    return ContainerService()


def register(commands: Any) -> None:
    group_parser = commands.add_parser("container", help="manage containers")
    group = group_parser.add_subparsers(dest="container_command", metavar="COMMAND",
                                        parser_class=type(group_parser))
    _register_verbs(commands, top_level=True)
    _register_verbs(group, top_level=False)
    container_info.register(commands, group)
    system_parser = commands.add_parser("system", help="manage berth")
    system = system_parser.add_subparsers(dest="system_command", metavar="COMMAND",
                                          parser_class=type(system_parser))
    p = system.add_parser("restore", help="after a host reboot: restart containers per their "
                          "restart policy and mark the rest exited")
    p.set_defaults(func=cmd_restore)
    networks.register_system(system)


def _register_verbs(target: Any, top_level: bool) -> None:
    for name, func, help_text in (("create", cmd_create, "create a new container"),
                                  ("run", cmd_run, "create and run a new container")):
        p = target.add_parser(name, help=help_text, add_help=False)
        p.add_argument("--help", action="help", help="show this help message and exit")
        add_create_flags(p)
        if name == "run":
            p.add_argument("-d", "--detach", action="store_true",
                           help="run in the background and print the container ID")
            p.add_argument("--sig-proxy", action=argparse.BooleanOptionalAction, default=True,
                           help="proxy received signals to the process")
        p.set_defaults(func=func)
    p = target.add_parser("start", help="start stopped containers")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("-a", "--attach", action="store_true", help="attach output and wait")
    p.add_argument("-i", "--interactive", action="store_true", help="attach STDIN")
    p.set_defaults(func=cmd_start)
    for name, func in (("stop", cmd_stop), ("restart", cmd_restart)):
        p = target.add_parser(name, help=f"{name} running containers")
        p.add_argument("containers", nargs="+", metavar="CONTAINER")
        p.add_argument("-t", "--time", "--timeout", dest="time", type=int,
                       help="seconds to wait before killing the container")
        p.add_argument("-s", "--signal", help="signal to send to the container")
        p.set_defaults(func=func)
    p = target.add_parser("kill", help="kill running containers")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("-s", "--signal", default="KILL", help="signal to send to the container")
    p.set_defaults(func=cmd_kill)
    for name, func in (("pause", cmd_pause), ("unpause", cmd_unpause)):
        p = target.add_parser(name, help=f"{name} all processes within containers")
        p.add_argument("containers", nargs="+", metavar="CONTAINER")
        p.set_defaults(func=func)
    p = target.add_parser("rm", aliases=[] if top_level else ["remove"],
                          help="remove containers")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.add_argument("-f", "--force", action="store_true", help="force removal of running containers")
    p.add_argument("-v", "--volumes", action="store_true", help="remove anonymous volumes")
    p.set_defaults(func=cmd_rm)
    p = target.add_parser("wait", help="block until containers stop, then print their exit codes")
    p.add_argument("containers", nargs="+", metavar="CONTAINER")
    p.set_defaults(func=cmd_wait)
    p = target.add_parser("exec", help="execute a command in a running container")
    p.add_argument("container", metavar="CONTAINER")
    p.add_argument("command", nargs=argparse.REMAINDER, metavar="COMMAND")
    p.add_argument("-i", "--interactive", action="store_true", help="keep STDIN open")
    p.add_argument("-t", "--tty", action="store_true", help="allocate a pseudo-TTY")
    p.add_argument("-d", "--detach", action="store_true", help="run the command in the background")
    p.add_argument("-u", "--user", default="", help="username or UID")
    p.add_argument("-w", "--workdir", default="", help="working directory inside the container")
    p.add_argument("-e", "--env", action="append", default=[], help="set environment variables")
    p.set_defaults(func=cmd_exec)
    p = target.add_parser("rename", help="rename a container")
    p.add_argument("container")
    p.add_argument("new_name")
    p.set_defaults(func=cmd_rename)
    p = target.add_parser("export", help="export a container's filesystem as a tar archive")
    p.add_argument("container")
    p.add_argument("-o", "--output", help="write to a file instead of STDOUT")
    p.set_defaults(func=cmd_export)
    p = target.add_parser("commit", help="create a new image from a container's changes")
    p.add_argument("container")
    p.add_argument("repository", nargs="?", help="REPOSITORY[:TAG]")
    p.add_argument("-a", "--author", default="", help="author")
    p.add_argument("-m", "--message", default="", help="commit message")
    p.add_argument("-c", "--change", action="append", default=[],
                   help="apply a Dockerfile instruction to the created image")
    p.add_argument("-p", "--pause", action=argparse.BooleanOptionalAction, default=True,
                   help="pause the container during commit")
    p.set_defaults(func=cmd_commit)


# -- create / run / start ---------------------------------------------------------------------

def cmd_create(args: argparse.Namespace) -> int:
    c = _service().create(build_spec(args), args.name)
    output.line(c.id)
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    from ..errors import BerthError

    spec = build_spec(args)
    svc = _service()
    c = svc.create(spec, args.name)
    try:
        # in the foreground this process releases the run after the exit (_finish_foreground)
        svc.start(c.id, remove_on_exit=spec.auto_remove and args.detach,
                  released_by_caller=not args.detach)
    except BerthError:
        if spec.auto_remove:
            svc.remove(c.id, force=True)
        raise
    if args.detach:
        output.line(c.id)
        return 0
    try:
        code = _attach_and_wait(svc, c, args.interactive, args.tty, args.sig_proxy)
    finally:
        _finish_foreground(svc, c.id, spec.auto_remove)
    return code


def _finish_foreground(svc: Any, cid: str, auto_remove: bool) -> None:
    from ..errors import BerthError, NotFound

    try:
        if auto_remove:
            svc.remove(cid, force=True)
        else:
            svc.refresh(svc.records.resolve(cid))  # release the rootfs mount, cgroup and shim
    except NotFound:
        pass
    except BerthError as exc:
        output.error_line(f"Error: {exc}")


def _attach_and_wait(svc: Any, c: Any, interactive: bool, tty: bool, sig_proxy: bool) -> int:
    """Stream the container's output until it exits; forward stdin/signals; its exit code.

    Without a tty the output comes from the json-file log (complete from the first byte, each
    stream to its own fd) and the attach stream carries only stdin; with a tty the pty's bytes
    come over the attach stream.
    """
    import contextlib

    from ..container import shimctl
    from . import attach

    paths = svc.paths(c.id)

    def send(signum: int) -> None:
        svc.kill(c.id, str(signum))

    proxy = attach.forward_signals(send) if sig_proxy and not tty else contextlib.nullcontext()
    with proxy:
        sock = None
        if tty or interactive:
            try:
                sock = shimctl.open_attach(paths, interactive)
            except shimctl.ShimError:
                sock = None  # it has already exited: the log still has everything
        if tty and sock is not None:
            with sock:
                size = attach.terminal_size(sys.stdin.fileno()) if sys.stdin.isatty() else None
                if size:
                    with contextlib.suppress(Exception):
                        shimctl.request(paths, {"op": "resize", "rows": size[0], "cols": size[1]})
                raw = attach.raw_terminal(sys.stdin.fileno()) if interactive \
                    else contextlib.nullcontext()
                with raw:
                    attach.pump_attach(sock, True, sys.stdin.fileno() if interactive else None)
        else:
            feeder = attach.feed_stdin(sock, sys.stdin.fileno()) if sock is not None else None
            try:
                _copy_log(svc, c.id, paths)
            finally:
                if feeder is not None:
                    feeder.join(5)
                if sock is not None:
                    sock.close()
    return svc.wait(c.id)


def _copy_log(svc: Any, cid: str, paths: Any) -> None:
    """Copy the json-file log to stdout/stderr as it grows, until the container has exited for
    good. The shim's ``wait`` request announces the exit (the log is complete by then), so the
    follower stops at once instead of re-reading the record every poll."""
    import select
    import time

    from ..container import shimctl
    from ..shim import read_logs

    try:
        waiter: Any = shimctl.open_wait(paths)
    except shimctl.ShimError:
        waiter = None  # no shim: the run has ended (the record says how)

    def stopped() -> bool:
        nonlocal waiter
        if waiter is not None:
            if not select.select([waiter], [], [], 0)[0]:
                return False
            try:
                shimctl.wait_reply(waiter)
                return True  # exited for good, or the shim died: the log has all it will get
            except shimctl.ShimError:
                waiter.close()  # a shim without the wait op: poll the record as it says
                waiter = None
        current = svc.records.get(cid)
        return current is None or not svc._reconcile(current).running  # noqa: SLF001

    def idle(seconds: float) -> None:
        if waiter is not None:
            select.select([waiter], [], [], seconds)  # wakes as soon as the exit is announced
        else:
            time.sleep(seconds)

    try:
        for stream, data in read_logs(paths.log, follow=True, stop=stopped, poll_interval=0.02,
                                      idle=idle):
            target = sys.stderr if stream == "stderr" else sys.stdout
            target.buffer.write(data)
            target.buffer.flush()
    finally:
        if waiter is not None:
            waiter.close()


def cmd_start(args: argparse.Namespace) -> int:
    svc = _service()
    if args.attach or args.interactive:
        if len(args.containers) > 1:
            from ..errors import InvalidArgument

            raise InvalidArgument("you cannot start and attach multiple containers at once")
        c = svc.start(args.containers[0])
        try:
            return _attach_and_wait(svc, c, args.interactive, c.spec.tty, True)
        finally:
            _finish_foreground(svc, c.id, c.spec.auto_remove)
    return output.each_target(args.containers, svc.start)


# -- stop / kill / restart / pause / rm / wait ----------------------------------------------------

def cmd_stop(args: argparse.Namespace) -> int:
    svc = _service()
    return output.each_target(args.containers, lambda n: svc.stop(n, args.time, args.signal))


def cmd_restart(args: argparse.Namespace) -> int:
    svc = _service()

    def restart(name: str) -> None:
        svc.stop(name, args.time, args.signal)
        svc.start(name)

    return output.each_target(args.containers, restart)


def cmd_kill(args: argparse.Namespace) -> int:
    svc = _service()
    return output.each_target(args.containers, lambda n: svc.kill(n, args.signal))


def cmd_pause(args: argparse.Namespace) -> int:
    svc = _service()
    return output.each_target(args.containers, svc.pause)


def cmd_unpause(args: argparse.Namespace) -> int:
    svc = _service()
    return output.each_target(args.containers, svc.unpause)


def cmd_rm(args: argparse.Namespace) -> int:
    svc = _service()
    return output.each_target(args.containers, lambda n: svc.remove(n, args.force, args.volumes))


def cmd_wait(args: argparse.Namespace) -> int:
    svc = _service()
    return output.each_target(args.containers, lambda n: output.line(svc.wait(n)), echo=False)


# -- exec ---------------------------------------------------------------------------------------

def cmd_exec(args: argparse.Namespace) -> int:
    from ..container import parse_env_args
    from ..container.execute import start_exec
    from ..errors import InvalidArgument
    from ..runtime import StartError
    from . import attach

    command = list(args.command)
    if command and command[0] == "--":
        command = command[1:]
    if not command:
        raise InvalidArgument("exec requires at least 1 command argument")
    svc = _service()
    env = parse_env_args(args.env)
    devnull = os.open(os.devnull, os.O_RDWR)
    try:
        if args.detach:
            stdio = (devnull, devnull, devnull)
        else:
            stdio = (0 if args.interactive else devnull, 1, 2)
        try:
            started = start_exec(svc, args.container, command, stdio, args.tty and not args.detach,
                                 args.user, args.workdir, env)
        except StartError as exc:
            output.error_line(f"Error: {exc}")
            return exc.exit_code
    finally:
        os.close(devnull)
    if args.detach:
        return 0
    if started.console_fd is not None:
        try:
            size = attach.terminal_size(0) if sys.stdin.isatty() else None
            if size:
                attach.set_size(started.console_fd, *size)
            raw = attach.raw_terminal(0) if args.interactive else _null()
            with raw:
                return attach.copy_console(started.console_fd, 0 if args.interactive else None,
                                           started.pid)
        finally:
            os.close(started.console_fd)
    return attach.wait_exit(started.pid)


def _null() -> Any:
    import contextlib

    return contextlib.nullcontext()


# -- rename / export / commit / restore -----------------------------------------------------------

def cmd_rename(args: argparse.Namespace) -> int:
    _service().rename(args.container, args.new_name)
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from ..container.archive import export
    from ..errors import InvalidArgument

    svc = _service()
    if args.output:
        tmp = args.output + ".tmp"
        try:
            with open(tmp, "wb") as f:
                export(svc, args.container, f)
            os.replace(tmp, args.output)
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
        return 0
    if sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
    export(svc, args.container, sys.stdout.buffer)
    return 0


def cmd_commit(args: argparse.Namespace) -> int:
    from ..container.archive import commit

    image = commit(_service(), args.container, args.repository, args.author, args.message,
                   args.change, args.pause)
    output.line(image.id)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from ..container.restore import restore

    for cid, action in restore(_service()):
        output.line(f"{cid[:12]} {action}")
    return 0
