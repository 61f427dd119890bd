"""A small single-threaded event loop: a selector of fd handlers, named timers and signals.

Signals arrive through a self-pipe (``signal.set_wakeup_fd``), so SIGCHLD is handled in the loop
like any other event and never interrupts the shim halfway through an update.
"""
from __future__ import annotations

import os
import selectors
import signal
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~1 MB of RSS; the shim must stay small
    from typing import Callable

READ = selectors.EVENT_READ
WRITE = selectors.EVENT_WRITE


def _ignore(signum: int, frame: object) -> None:
    """A Python-level handler only so the signal reaches the wakeup pipe (the loop acts on it)."""


class Loop:
    def __init__(self) -> None:
        self.selector = selectors.DefaultSelector()
        self.timers: dict[str, tuple[float, Callable[[], None]]] = {}
        self.signal_handlers: dict[int, Callable[[], None]] = {}
        self._signal_r = self._signal_w = -1

    # fds --------------------------------------------------------------------------------------
    def watch(self, fd: int, events: int, handler: Callable[[int], None]) -> None:
        """Call ``handler(mask)`` when ``fd`` is ready for ``events`` (0: stop watching)."""
        registered = fd in self.selector.get_map()
        if not events:
            if registered:
                self.selector.unregister(fd)
        elif registered:
            self.selector.modify(fd, events, handler)
        else:
            self.selector.register(fd, events, handler)

    def forget(self, fd: int) -> None:
        self.watch(fd, 0, lambda mask: None)

    # timers -----------------------------------------------------------------------------------
    def call_later(self, name: str, delay: float, callback: Callable[[], None]) -> None:
        """Run ``callback`` after ``delay`` seconds; a timer of the same name is replaced."""
        self.timers[name] = (time.monotonic() + delay, callback)

    def deadline(self, name: str) -> float | None:
        timer = self.timers.get(name)
        return None if timer is None else timer[0] - time.monotonic()

    def cancel(self, name: str) -> None:
        self.timers.pop(name, None)

    # signals ----------------------------------------------------------------------------------
    def on_signal(self, signum: int, handler: Callable[[], None]) -> None:
        if self._signal_r < 0:
            self._signal_r, self._signal_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
            signal.set_wakeup_fd(self._signal_w, warn_on_full_buffer=False)
            self.watch(self._signal_r, READ, self._on_signal_pipe)
        self.signal_handlers[signum] = handler
        signal.signal(signum, _ignore)

    def _on_signal_pipe(self, mask: int) -> None:
        try:
            received = set(os.read(self._signal_r, 4096))
        except BlockingIOError:
            return
        for signum in sorted(received):
            handler = self.signal_handlers.get(signum)
            if handler is not None:
                handler()

    # running ----------------------------------------------------------------------------------
    def run_once(self, max_wait: float | None = None) -> None:
        now = time.monotonic()
        waits = [when - now for when, _callback in self.timers.values()]
        if max_wait is not None:
            waits.append(max_wait)
        timeout = max(min(waits), 0.0) if waits else None
        fd_map = self.selector.get_map()
        for key, mask in self.selector.select(timeout):
            if fd_map.get(key.fd) is key:  # an earlier handler may have closed this fd
                key.data(mask)
        now = time.monotonic()
        for name, (when, callback) in sorted(self.timers.items(), key=lambda item: item[1][0]):
            if when <= now and self.timers.get(name, (None,))[0] == when:
                del self.timers[name]
                callback()

    def close(self) -> None:
        if self._signal_r >= 0:
            signal.set_wakeup_fd(-1)
            os.close(self._signal_r)
            os.close(self._signal_w)
            self._signal_r = self._signal_w = -1
        self.selector.close()
