"""Terminal plumbing for foreground containers and ``exec``: raw tty mode, copying streams, the
attach stream's frames and signal forwarding."""
from __future__ import annotations

import contextlib
import fcntl
import os
import select
import signal
import struct
import sys
import termios
import tty as ttymod
from collections.abc import Iterator
from typing import Any, Callable, Optional


@contextlib.contextmanager
def raw_terminal(fd: int) -> Iterator[None]:
    if not os.isatty(fd):
        yield
        return
    saved = termios.tcgetattr(fd)
    try:
        ttymod.setraw(fd)
        yield
    finally:
        termios.tcsetattr(fd, termios.TCSADRAIN, saved)


def terminal_size(fd: int) -> Optional[tuple[int, int]]:
    try:
        rows, cols, _xpixels, _ypixels = struct.unpack("HHHH", fcntl.ioctl(fd, termios.TIOCGWINSZ, b"\0" * 8))
        return rows, cols
    except OSError:
        return None


def set_size(fd: int, rows: int, cols: int) -> None:
    with contextlib.suppress(OSError):
        fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", rows, cols, 0, 0))


@contextlib.contextmanager
def forward_signals(send: Callable[[int], None],
                    sigs: tuple[int, ...] = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP,
                                             signal.SIGQUIT, signal.SIGUSR1, signal.SIGUSR2)
                    ) -> Iterator[None]:
    """Docker's --sig-proxy: signals this CLI receives go to the container."""
    previous = {}

    def handler(signum: int, _frame: Any) -> None:
        with contextlib.suppress(Exception):
            send(signum)

    for s in sigs:
        previous[s] = signal.signal(s, handler)
    try:
        yield
    finally:
        for s, h in previous.items():
            signal.signal(s, h)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        try:
            n = os.write(fd, view)
        except InterruptedError:
            continue
        view = view[n:]


def pump_attach(sock: Any, tty: bool, stdin_fd: Optional[int]) -> None:
    """Copy the shim's attach stream to stdout/stderr (frames unless tty) and stdin to it."""
    out_fd, err_fd = sys.stdout.fileno(), sys.stderr.fileno()
    sock_fd = sock.fileno()
    reading_stdin = stdin_fd is not None
    buf = b""
    while True:
        watch = [sock_fd] + ([stdin_fd] if reading_stdin else [])
        try:
            ready, _writable, _failed = select.select(watch, [], [])
        except InterruptedError:
            continue
        if reading_stdin and stdin_fd in ready:
            data = os.read(stdin_fd, 65536)  # type: ignore[arg-type]
            if data:
                sock.sendall(data)
            else:
                reading_stdin = False
                with contextlib.suppress(OSError):
                    sock.shutdown(1)  # SHUT_WR: EOF to the container's stdin
        if sock_fd in ready:
            try:
                data = sock.recv(65536)
            except InterruptedError:
                continue
            except ConnectionResetError:
                data = b""
            if not data:
                if buf and not tty:
                    _write_all(out_fd, buf)
                return
            if tty:
                _write_all(out_fd, data)
                continue
            buf += data
            buf = _drain_frames(buf, out_fd, err_fd)


def _drain_frames(buf: bytes, out_fd: int, err_fd: int) -> bytes:
    """Frames are ``1|2 <len>\\n<bytes>``; return what is left of an incomplete frame."""
    while True:
        head, sep, rest = buf.partition(b"\n")
        if not sep:
            return buf
        try:
            stream_s, length_s = head.split(b" ", 1)
            length = int(length_s)
        except ValueError:
            _write_all(out_fd, buf)  # not a frame: pass the bytes on rather than lose them
            return b""
        if len(rest) < length:
            return buf
        _write_all(err_fd if stream_s == b"2" else out_fd, rest[:length])
        buf = rest[length:]


def copy_console(master: int, stdin_fd: Optional[int], pid: int) -> int:
    """Copy between our terminal and an exec'd process's pty until it exits; its exit code."""
    out_fd = sys.stdout.fileno()
    reading_stdin = stdin_fd is not None
    while True:
        watch = [master] + ([stdin_fd] if reading_stdin else [])
        try:
            ready, _writable, _failed = select.select(watch, [], [], 0.2)
        except InterruptedError:
            continue
        if reading_stdin and stdin_fd in ready:
            data = os.read(stdin_fd, 65536)  # type: ignore[arg-type]
            if data:
                _write_all(master, data)
            else:
                reading_stdin = False
                with contextlib.suppress(OSError):
                    _write_all(master, b"\x04")  # EOF for a canonical-mode reader
        if master in ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the slave side is closed
                data = b""
            if data:
                _write_all(out_fd, data)
                continue
            return wait_exit(pid)
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            _drain(master, out_fd)
            return exit_status(status)


def _drain(master: int, out_fd: int) -> None:
    while True:
        ready, _writable, _failed = select.select([master], [], [], 0)
        if not ready:
            return
        try:
            data = os.read(master, 65536)
        except OSError:
            return
        if not data:
            return
        _write_all(out_fd, data)


def exit_status(status: int) -> int:
    if os.WIFSIGNALED(status):
        return 128 + os.WTERMSIG(status)
    return os.WEXITSTATUS(status)


def wait_exit(pid: int) -> int:
    while True:
        try:
            _pid, status = os.waitpid(pid, 0)
        except InterruptedError:
            continue
        except ChildProcessError:
            return 0
        return exit_status(status)


def feed_stdin(sock: Any, stdin_fd: int) -> Any:
    """A thread copying our stdin to the attach connection (EOF -> shutdown of its write side)
    and discarding what the shim sends back (the output is read from the log)."""
    import threading

    def run() -> None:
        sock_fd = sock.fileno()
        reading = True
        while True:
            watch = [sock_fd] + ([stdin_fd] if reading else [])
            try:
                ready, _writable, _failed = select.select(watch, [], [])
            except (InterruptedError, ValueError, OSError):
                return
            if reading and stdin_fd in ready:
                data = os.read(stdin_fd, 65536)
                try:
                    if data:
                        sock.sendall(data)
                    else:
                        reading = False
                        sock.shutdown(1)
                except OSError:
                    return
            if sock_fd in ready:
                try:
                    if not sock.recv(65536):
                        return
                except OSError:
                    return

    thread = threading.Thread(target=run, name="berth-stdin", daemon=True)
    thread.start()
    return thread
