"""Progress of pulls and pushes, shown like Docker: one line per layer.

On a terminal each layer keeps its own line, redrawn in place with a bar while bytes move; elsewhere
(logs, pipes) each change of a layer's status is one line ("a3ed95caeb02: Pull complete") and byte
counts are not printed. Pull and push report from worker threads, so every method takes a lock.
"""
from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from typing import TextIO

BAR_WIDTH = 50
REDRAW_INTERVAL = 0.1  # seconds between two redraws of the same layer's bar


def human_size(size: float) -> str:
    """Decimal units with 3 significant digits, like Docker's progress output."""
    units = ["B", "kB", "MB", "GB", "TB"]
    i = 0
    while size >= 1000 and i < len(units) - 1:
        size /= 1000.0
        i += 1
    return f"{size:.4g}{units[i]}" if i else f"{int(size)}B"


def short_id(digest: str) -> str:
    """The 12 hex digits Docker shows for a layer."""
    return digest.split(":", 1)[-1][:12]


def render_bar(current: int, total: int | None, width: int = BAR_WIDTH) -> str:
    """``[=====>     ]  1.2MB/3.4MB``, or just the count when the total is unknown."""
    if not total or total <= 0:
        return human_size(current)
    done = min(width, width * max(current, 0) // total)
    filled = "=" * width if done >= width else "=" * done + ">"
    return f"[{filled.ljust(width)}] {human_size(current):>8}/{human_size(total)}"


class Progress:
    """Reports nothing; the interface pull and push call."""

    def message(self, text: str) -> None:
        """A line of its own: "latest: Pulling from library/busybox", "Digest: sha256:..."."""

    def layer(self, ident: str, status: str, current: int | None = None,
              total: int | None = None) -> None:
        """``ident`` (a digest or short ID) is now in ``status``; ``current``/``total`` bytes if it
        is moving data."""

    def close(self) -> None:
        """Finish the output (no more redraws)."""


class TextProgress(Progress):
    """Not a terminal: a line per status change of a layer, never a byte count."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self._lock = threading.Lock()
        self._status: dict[str, str] = {}

    def message(self, text: str) -> None:
        with self._lock:
            self.stream.write(text + "\n")
            self.stream.flush()

    def layer(self, ident: str, status: str, current: int | None = None,
              total: int | None = None) -> None:
        key = short_id(ident)
        with self._lock:
            if self._status.get(key) == status:
                return
            self._status[key] = status
            self.stream.write(f"{key}: {status}\n")
            self.stream.flush()


class TerminalProgress(Progress):
    """A terminal: each layer owns a line, redrawn in place (cursor up, clear line, cursor down)."""

    def __init__(self, stream: TextIO | None = None, clock: Callable[[], float] = time.monotonic) -> None:
        self.stream = stream or sys.stdout
        self._clock = clock
        self._lock = threading.Lock()
        self._order: list[str] = []  # layer IDs in the order their lines were printed
        self._lines: dict[str, str] = {}
        self._status: dict[str, str] = {}
        self._drawn_at: dict[str, float] = {}

    def message(self, text: str) -> None:
        with self._lock:
            # A message starts a new block: later layer lines go below it.
            self._order.clear()
            self.stream.write(text + "\n")
            self.stream.flush()

    def layer(self, ident: str, status: str, current: int | None = None,
              total: int | None = None) -> None:
        key = short_id(ident)
        line = f"{key}: {status}"
        if current is not None:
            line += " " + render_bar(current, total)
        with self._lock:
            if self._lines.get(key) == line and key in self._order:
                return
            now = self._clock()
            moving = current is not None and total is not None and current < total
            if moving and key in self._order and self._status.get(key) == status \
                    and now - self._drawn_at.get(key, 0.0) < REDRAW_INTERVAL:
                return  # a bar moving fast: redraw at most every REDRAW_INTERVAL
            self._status[key] = status
            self._lines[key] = line
            self._drawn_at[key] = now
            if key not in self._order:
                self._order.append(key)
                self.stream.write(line + "\x1b[K\n")
            else:
                up = len(self._order) - self._order.index(key)
                # Up to the layer's line, clear it, write, then back down below the last line.
                self.stream.write(f"\x1b[{up}A\r\x1b[2K{line}\r\x1b[{up}B")
            self.stream.flush()


def for_stream(stream: TextIO | None = None, quiet: bool = False) -> Progress:
    """The right reporter for ``stream``: bars on a terminal, lines otherwise, nothing if quiet."""
    if quiet:
        return Progress()
    stream = stream or sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    return TerminalProgress(stream) if tty else TextProgress(stream)
