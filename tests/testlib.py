"""Helpers shared by the test packages (tests/ is on sys.path through its conftest.py)."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
import tarfile
import textwrap
import threading
from collections.abc import Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, TypeVar

T = TypeVar("T")

#: the directory that holds the ``berth`` package of this checkout
PLUGIN_UTILS = str(Path(__file__).resolve().parents[1] / "plugins" / "module_utils")


def python_output(code: str, unimportable: Sequence[str] = ()) -> str:
    """The stdout of ``code`` (dedented) run in a fresh interpreter (imports are process state)
    that imports berth from this checkout and cannot import the modules ``unimportable``
    (``sys.modules[name] = None`` makes ``import name`` raise ImportError); a failure fails the
    test with the child's stderr."""
    prelude = "import sys\n" + "".join(f"sys.modules[{name!r}] = None\n" for name in unimportable)
    prelude += f"sys.path.insert(0, {PLUGIN_UTILS!r})\n"
    proc = subprocess.run([sys.executable, "-c", prelude + textwrap.dedent(code)],
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout


class Trickle:
    """A forward-only source that gives at most ``chunk`` bytes per read, like a socket."""

    def __init__(self, data: bytes, chunk: int = 65536) -> None:
        self._data, self._pos, self._chunk = data, 0, chunk

    def read(self, n: int = -1) -> bytes:
        n = self._chunk if n < 0 else min(n, self._chunk)
        out = self._data[self._pos:self._pos + n]
        self._pos += len(out)
        return out


def tar_of(*entries: tuple[tarfile.TarInfo, bytes]) -> bytes:
    """A PAX tar archive of ``(member, data)`` pairs, in memory."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for info, data in entries:
            t.addfile(info, io.BytesIO(data) if data else None)
    return buf.getvalue()


def mounts_under(prefix: str) -> list[str]:
    """Mount points below ``prefix`` in this mount namespace, deepest first."""
    points = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].encode().decode("unicode_escape")
            if point == prefix or point.startswith(prefix.rstrip("/") + "/"):
                points.append(point)
    return sorted(points, key=len, reverse=True)


def remove_cgroup_parent(name: str) -> None:
    """Remove the (empty) parent cgroup ``name`` that a test package's containers shared, in every
    hierarchy; one still in use stays."""
    import os

    import berth.runtime as rt

    layout = rt.detect()
    for mountpoint in [m for m, _controllers in layout.v1] + ([layout.unified] if layout.unified else []):
        try:
            os.rmdir(os.path.join(mountpoint, name))
        except OSError:
            pass


@contextlib.contextmanager
def cleaned_up(build: Callable[..., T]) -> Iterator[Callable[..., T]]:
    """The body of a factory fixture: every object ``build`` made gets its ``cleanup()`` at the
    end, also when the test failed."""
    made: list[Any] = []

    def make(*args: Any, **kw: Any) -> T:
        obj = build(*args, **kw)
        made.append(obj)
        return obj

    try:
        yield make
    finally:
        for obj in made:
            obj.cleanup()


class ServedHTTP:
    """A threaded HTTP server on 127.0.0.1 (``port`` 0: a free one) serving ``handler`` from a
    thread until ``close``. ``quiet``: no traceback when a client hangs up mid-reply, as clients
    do on the hostile replies the tests send."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0,
                 quiet: bool = False) -> None:
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), handler)
        if quiet:
            self.httpd.handle_error = lambda request, address: None  # type: ignore[method-assign]
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


def send_a_third_and_hang_up(handler: BaseHTTPRequestHandler, content: bytes) -> None:
    """Announce all of ``content`` (200, Content-Length), send its first third, drop the
    connection: a download broken off mid-blob."""
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(content)))
    handler.end_headers()
    handler.wfile.write(content[: len(content) // 3])
    handler.wfile.flush()
    handler.close_connection = True
