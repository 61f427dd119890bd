"""Registry verbs: pull, push, login, logout."""
from __future__ import annotations

import argparse
import sys
from typing import Any

from ..errors import InvalidArgument
from . import output


def register(commands: Any) -> None:
    p = commands.add_parser("pull", help="download an image from a registry")
    p.add_argument("name", metavar="NAME[:TAG|@DIGEST]")
    p.add_argument("--platform", help="os/arch[/variant] to pull from a multi-platform image")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    p.set_defaults(func=cmd_pull)
    p = commands.add_parser("push", help="upload an image to a registry")
    p.add_argument("name", metavar="NAME[:TAG]")
    p.add_argument("-q", "--quiet", action="store_true", help="suppress verbose output")
    p.set_defaults(func=cmd_push)
    p = commands.add_parser("login", help="log in to a registry")
    p.add_argument("server", nargs="?", help="registry host[:port] (default: Docker Hub)")
    p.add_argument("-u", "--username", help="username")
    p.add_argument("-p", "--password", help="password (insecure: prefer --password-stdin)")
    p.add_argument("--password-stdin", action="store_true", help="take the password from stdin")
    p.set_defaults(func=cmd_login)
    p = commands.add_parser("logout", help="log out from a registry")
    p.add_argument("server", nargs="?", help="registry host[:port] (default: Docker Hub)")
    p.set_defaults(func=cmd_logout)


def cmd_pull(args: argparse.Namespace) -> int:
    from ..image import ImageStore
    from ..image import reference
    from ..registry.progress import for_stream
    from ..registry.pull import pull

    ref = reference.parse(args.name)
    if not args.quiet and "@" not in args.name and reference.parse(args.name, default_tag=False).tag is None:
        output.line(f"Using default tag: {reference.DEFAULT_TAG}", flush=True)
    pull(ImageStore(), args.name, platform=args.platform, progress=for_stream(sys.stdout, args.quiet))
    output.line(str(ref))
    return 0


def cmd_push(args: argparse.Namespace) -> int:
    from ..image import ImageStore
    from ..registry.progress import for_stream
    from ..registry.push import push

    digest = push(ImageStore(), args.name, progress=for_stream(sys.stdout, args.quiet))
    if args.quiet:
        output.line(digest)
    return 0


def _server(text: str | None) -> str:
    from ..registry import INDEX_SERVER

    return text or INDEX_SERVER


def _host(server: str) -> str:
    """The host[:port] for talking to ``server`` (Docker Hub's key is a URL)."""
    from ..registry import INDEX_SERVER, normalize_host

    key = normalize_host(server)
    return "docker.io" if key == INDEX_SERVER else key


def cmd_login(args: argparse.Namespace) -> int:
    from ..registry import login

    server = _server(args.server)
    username, password = args.username, args.password
    if args.password_stdin:
        if password:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        if not username:
            raise InvalidArgument("must provide --username with --password-stdin")
        password = sys.stdin.read().rstrip("\r\n")
    elif password:
        output.error_line("WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
    if not username or not password:
        if not sys.stdin.isatty():
            raise InvalidArgument("cannot perform an interactive login from a non TTY device")
        if not username:
            username = input("Username: ").strip()
        if not password:
            import getpass  # termios: only an interactive login needs it

            password = getpass.getpass("Password: ")
    if not username:
        raise InvalidArgument("username is required")
    if not password:
        raise InvalidArgument("password is required")
    login(_host(server), username, password)
    output.line("Login Succeeded")
    return 0


def cmd_logout(args: argparse.Namespace) -> int:
    from ..registry import logout

    server = _server(args.server)
    if logout(_host(server)):
        output.line(f"Removing login credentials for {server}")
    else:
        output.line(f"Not logged in to {server}")
    return 0
