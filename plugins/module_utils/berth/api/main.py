"""``berthd``: the daemon's command line (``python -m berth.api`` until the console script exists).

    berthd [-H unix:///run/berth/berth.sock] [--pidfile PATH] [--no-restore] [-D]

SIGTERM or SIGINT stop it cleanly; containers keep running (their shims own them) and the next
berthd finds them. Exit status 1 when it cannot start (another daemon on the socket, ...).
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
from collections.abc import Sequence
from typing import Optional

from ..errors import BerthError, InvalidArgument


def socket_path_of(host: str) -> str:
    """``unix:///path`` or a plain absolute path -> the path; other schemes are refused."""
    if host.startswith("unix://"):
        path = host[len("unix://"):]
    elif host.startswith("/"):
        path = host
    else:
        raise InvalidArgument(f"unsupported host {host!r}: berthd listens on unix:///path only")
    if not path.startswith("/"):
        raise InvalidArgument(f"unsupported host {host!r}: the socket path must be absolute")
    return path


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="berthd", description="berth's Docker-compatible API daemon")
    p.add_argument("-H", "--host", default=None,
                   help="socket to listen on (default unix://$BERTH_RUN/berth.sock)")
    p.add_argument("-p", "--pidfile", default=None,
                   help="pid file (default $BERTH_RUN/berthd.pid)")
    p.add_argument("--no-restore", action="store_true",
                   help="skip the boot restore of containers and networks")
    p.add_argument("-D", "--debug", action="store_true", help="log every request to stderr")
    return p


def _write_pidfile(path: str) -> None:
    os.makedirs(os.path.dirname(path) or ".", 0o711, exist_ok=True)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w") as f:
        f.write(f"{os.getpid()}\n")
    os.replace(tmp, path)


def _remove_pidfile(path: str) -> None:
    with contextlib.suppress(OSError):
        with open(path) as f:
            if f.read().strip() != str(os.getpid()):
                return  # a newer daemon owns it
        os.unlink(path)


def main(argv: Optional[Sequence[str]] = None) -> int:
    args = build_parser().parse_args(argv)
    from ..store import Store
    from .daemon import Daemon

    try:
        store = Store()
        host = args.host or ""
        daemon = Daemon(socket_path_of(host) if host else None, store, verbose=args.debug)
        daemon.open()
    except BerthError as e:
        sys.stderr.write(f"berthd: {e}\n")
        return 1
    pidfile = args.pidfile or os.path.join(store.run, "berthd.pid")
    _write_pidfile(pidfile)
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: daemon.shutdown())
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        if not args.no_restore:
            report = daemon.boot()
            net = report.network
            sys.stderr.write("berthd: boot restore: " + json.dumps({
                "containers": report.containers, "network_repaired": net.get("repaired", False),
                "leaked": len(net.get("leaked") or []), "missing": len(net.get("missing") or [])})
                + "\n")
        sys.stderr.write(f"berthd: API listening on unix://{daemon.socket_path}\n")
        sys.stderr.flush()
        daemon.serve_forever()
    finally:
        _remove_pidfile(pidfile)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
