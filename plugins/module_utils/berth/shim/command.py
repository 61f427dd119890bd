"""The command line that starts a shim (imported by the container service at every start and by
the shim itself, so it imports nothing but os and sys: typing alone would add ~1 MB to every
idle shim)."""
from __future__ import annotations

import os
import sys

GO = b"go"  # what the launcher writes on ``--go-fd`` (a line) once the container may start
SHIM_MODULE = __name__.rsplit(".", 1)[0]  # "berth.shim", or its name inside an Ansible collection

#: The shim runs as ``python -I -S``: without site (no site-packages, no .pth files) it starts
#: ~40 ms sooner and smaller, and it needs only the standard library and this package, whose
#: parent directory the boot line puts first on sys.path. It ends with ``os._exit``: state.json,
#: the log and the exit hook are done by then, and the interpreter's teardown (5-10 ms) would
#: only delay the caller that waits for the shim to be gone (``run --rm``).
_BOOT = ("import sys, os; sys.path.insert(0, sys.argv.pop(1)); "
         f"from {SHIM_MODULE}.main import main; code = main(); "
         "sys.stdout.flush(); sys.stderr.flush(); os._exit(code)")


def shim_command(run_dir: str, ready_fd: int, go_fd: int = -1) -> list[str]:
    """The shim's command line (the run dir last, so ``ps`` shows which container it serves);
    with ``go_fd`` it waits for ``go`` on that fd before it starts."""
    options = ["--ready-fd", str(ready_fd)] + (["--go-fd", str(go_fd)] if go_fd >= 0 else [])
    parent = _package_parent()
    if parent is None:  # inside an Ansible collection: let the normal import machinery find it
        return [sys.executable, "-m", SHIM_MODULE, *options, run_dir]
    return [sys.executable, "-I", "-S", "-c", _BOOT, parent, *options, run_dir]


def _package_parent() -> str | None:
    """The directory holding the ``berth`` package, when this is the plain ``berth`` package."""
    if SHIM_MODULE.count(".") != 1:
        return None
    path = getattr(sys.modules.get(SHIM_MODULE.split(".")[0]), "__file__", None)
    return os.path.dirname(os.path.dirname(path)) if path else None
