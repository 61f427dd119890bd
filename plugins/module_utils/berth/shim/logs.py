"""Docker's json-file log driver: the writer the shim feeds and the reader ``berth logs`` uses.

One JSON object per line, ``{"log": "hi\\n", "stream": "stdout", "time": "<RFC3339Nano>"}``.
Output is cut into lines; a line longer than 16 KiB is written in pieces (like Docker), and what is
left when a stream ends is written without its newline. With ``max_size`` the file rotates to
``<path>.1`` .. ``<path>.<max_files - 1>`` (Docker's ``max-file`` counts the live file too);
with ``max_files`` 1 it starts over (a new file replaces it, so followers notice).
"""
from __future__ import annotations

import json
import os
import time
from collections import deque

from .clock import parse_rfc3339, rfc3339_nano

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~1 MB of RSS; the shim must stay small
    from typing import Callable, Iterator

MAX_LINE = 16 * 1024
STREAMS = ("stdout", "stderr")


class LogWriter:
    """Appends entries to a json-file log, rotating by size."""

    def __init__(self, path: str, max_size: int | None = None, max_files: int = 1) -> None:
        self.path = path
        self.max_size = max_size if max_size and max_size > 0 else None
        self.max_files = max(max_files, 1)
        self.fd = -1
        self.size = 0
        self._open()

    def _open(self) -> None:
        os.makedirs(os.path.dirname(self.path) or ".", exist_ok=True)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_CLOEXEC, 0o640)
        self.size = os.fstat(self.fd).st_size

    def write(self, stream: str, text: bytes, when: str | None = None) -> None:
        entry = json.dumps({"log": text.decode("utf-8", "replace"), "stream": stream,
                            "time": when or rfc3339_nano()},
                           separators=(",", ":"), ensure_ascii=False).encode() + b"\n"
        if self.max_size is not None and self.size > 0 and self.size + len(entry) > self.max_size:
            self._rotate()
        os.write(self.fd, entry)  # one write per entry: a follower never sees half an entry
        self.size += len(entry)

    def _rotate(self) -> None:
        os.close(self.fd)
        if self.max_files == 1:
            os.unlink(self.path)  # a new file, not a truncation, so a follower can tell
        for n in range(self.max_files - 1, 0, -1):
            older = f"{self.path}.{n - 1}" if n > 1 else self.path
            if os.path.exists(older):
                os.replace(older, f"{self.path}.{n}")
        self._open()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


class StreamLog:
    """Cuts one output stream into log entries: whole lines, 16 KiB pieces, and the rest at end."""

    def __init__(self, writer: LogWriter, stream: str) -> None:
        self.writer = writer
        self.stream = stream
        self.pending = b""

    def feed(self, data: bytes) -> None:
        when = rfc3339_nano()
        buf = self.pending + data
        start = 0
        while True:
            end = buf.find(b"\n", start)
            if end < 0 or end - start >= MAX_LINE:
                if len(buf) - start < MAX_LINE:
                    break
                end = start + MAX_LINE - 1
            self.writer.write(self.stream, buf[start:end + 1], when)
            start = end + 1
        self.pending = buf[start:]

    def flush(self) -> None:
        """The stream ended: keep its unterminated last line."""
        if self.pending:
            self.writer.write(self.stream, self.pending)
            self.pending = b""


def log_files(path: str) -> list[str]:
    """The files of a json-file log, oldest first: ``path.N`` .. ``path.1``, ``path``."""
    rotated = []
    n = 1
    while os.path.exists(f"{path}.{n}"):
        rotated.append(f"{path}.{n}")
        n += 1
    return rotated[::-1] + [path]


def _since_ns(since: float | str | None) -> int | None:
    if since is None:
        return None
    if isinstance(since, str):
        return parse_rfc3339(since)
    return int(since * 1_000_000_000)


def _decode(line: bytes, since_ns: int | None, timestamps: bool) -> tuple[str, bytes] | None:
    try:
        entry = json.loads(line)
        stream, text, when = entry["stream"], entry["log"], entry["time"]
        if since_ns is not None and parse_rfc3339(when) < since_ns:
            return None
    except (ValueError, KeyError, TypeError):
        return None  # a damaged line is skipped, like Docker's reader does
    data = text.encode("utf-8", "replace")
    return stream, (f"{when} ".encode() + data if timestamps else data)


def read_logs(path: str, follow: bool = False, tail: int | None = None,
              since: float | str | None = None, timestamps: bool = False,
              stop: Callable[[], bool] | None = None, poll_interval: float = 0.1,
              idle: Callable[[float], object] | None = None) -> Iterator[tuple[str, bytes]]:
    """Yield ``(stream, data)`` for each entry of the json-file log at ``path`` (rotated files
    included, oldest first).

    ``tail``: only the last N entries (None or negative: all). ``since``: entries at or after this
    time (epoch seconds or RFC 3339). ``timestamps``: prefix each entry with its time and a space.
    ``follow``: then wait for new entries, across rotations, until ``stop()`` returns True (the
    container exited; checked only when no new entry is waiting) or the caller stops iterating.
    ``idle(poll_interval)`` replaces the sleep between polls; it may return early, e.g. a select
    on a connection that announces the exit, so the follower stops without a poll's delay.
    """
    since_ns = _since_ns(since)
    keep: deque = deque(maxlen=tail if tail is not None and tail >= 0 else None)
    current = None
    for name in log_files(path):
        try:
            f = open(name, "rb")
        except FileNotFoundError:
            continue
        for line in f:
            if line.endswith(b"\n"):
                keep.append(line)
            else:  # the writer is mid-entry: a follower reads it whole later
                f.seek(f.tell() - len(line))
                break
        if name == path:
            current = f
        else:
            f.close()
    try:
        for line in keep:
            entry = _decode(line, since_ns, timestamps)
            if entry:
                yield entry
        keep.clear()
        if follow:
            yield from _follow(path, current, since_ns, timestamps, stop, poll_interval,
                               idle or time.sleep)
    finally:
        if current is not None:
            current.close()


def _follow(path: str, f, since_ns: int | None, timestamps: bool,
            stop: Callable[[], bool] | None, poll_interval: float,
            idle: Callable[[float], object]) -> Iterator[tuple[str, bytes]]:
    partial = [b""]  # an entry the writer has not finished yet

    def drain(f) -> Iterator[tuple[str, bytes]]:
        for line in iter(f.readline, b""):
            partial[0] += line
            if partial[0].endswith(b"\n"):
                entry = _decode(partial[0], since_ns, timestamps)
                partial[0] = b""
                if entry:
                    yield entry

    stopping = False
    try:
        while True:
            if f is not None:
                yield from drain(f)
            if stopping:
                return
            reopened = _reopen_if_rotated(path, f)
            if reopened is not f:
                if f is not None:
                    yield from drain(f)  # what was written before the rotation
                    f.close()
                f, partial[0] = reopened, b""
                continue
            if f is not None and os.fstat(f.fileno()).st_size < f.tell():
                f.seek(0)  # truncated by someone else
                partial[0] = b""
                continue
            if stop is not None and stop():
                stopping = True  # one more pass picks up what was written just before the exit
                continue
            idle(poll_interval)
    finally:
        if f is not None:
            f.close()


def _reopen_if_rotated(path: str, f):
    """A new file object when ``path`` is not (or no longer) the file ``f`` reads."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        return f
    if f is not None:
        current = os.fstat(f.fileno())
        if (st.st_ino, st.st_dev) == (current.st_ino, current.st_dev):
            return f
    try:
        return open(path, "rb")
    except FileNotFoundError:
        return f
