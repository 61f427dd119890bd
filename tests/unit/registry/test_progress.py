"""Pull/push progress output: lines when not on a terminal, bars redrawn in place on one."""
from __future__ import annotations

import io
import re
import threading

from berth.registry.progress import (Progress, TerminalProgress, TextProgress, for_stream, human_size,
                                     render_bar, short_id)

A = "sha256:" + "a" * 64
B = "sha256:" + "b" * 64


class _Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_short_id_and_sizes():
    assert short_id(A) == "a" * 12
    assert short_id("0123456789abcdef") == "0123456789ab"
    assert human_size(999) == "999B"
    assert human_size(1500) == "1.5kB"
    assert human_size(2_500_000) == "2.5MB"


def test_bar_fills_with_progress():
    assert render_bar(0, 100, width=10) == "[>         ]       0B/100B"
    assert render_bar(50, 100, width=10) == "[=====>    ]      50B/100B"
    assert render_bar(100, 100, width=10) == "[==========]     100B/100B"
    assert render_bar(150, 100, width=10).startswith("[==========]")  # never wider than the bar
    assert render_bar(4096, None) == "4.096kB"


def test_text_progress_prints_one_line_per_status_change():
    out = io.StringIO()
    p = TextProgress(out)
    p.message("latest: Pulling from library/busybox")
    p.layer(A, "Pulling fs layer")
    for n in range(0, 1000, 100):
        p.layer(A, "Downloading", n, 1000)  # byte counts never print in text mode
    p.layer(A, "Downloading", 1000, 1000)
    p.layer(B, "Already exists")
    p.layer(A, "Pull complete")
    p.message("Digest: sha256:" + "c" * 64)
    assert out.getvalue().splitlines() == [
        "latest: Pulling from library/busybox",
        "aaaaaaaaaaaa: Pulling fs layer",
        "aaaaaaaaaaaa: Downloading",
        "bbbbbbbbbbbb: Already exists",
        "aaaaaaaaaaaa: Pull complete",
        "Digest: sha256:" + "c" * 64,
    ]


def test_terminal_progress_redraws_each_layer_on_its_own_line():
    out, clock = _Tty(), _Clock()
    p = TerminalProgress(out, clock=clock)
    p.layer(A, "Pulling fs layer")
    p.layer(B, "Pulling fs layer")
    start = len(out.getvalue())
    p.layer(A, "Downloading", 10, 100)
    redraw = out.getvalue()[start:]
    # A is two lines up: go up 2, clear the line, draw, come back down 2.
    assert redraw.startswith("\x1b[2A\r\x1b[2K") and redraw.endswith("\r\x1b[2B")
    assert "aaaaaaaaaaaa: Downloading [" in redraw and "10B/100B" in redraw
    start = len(out.getvalue())
    p.layer(B, "Pull complete")
    assert out.getvalue()[start:] == "\x1b[1A\r\x1b[2Kbbbbbbbbbbbb: Pull complete\r\x1b[1B"
    # Exactly two lines were printed (one per layer); everything else was redrawn in place.
    assert out.getvalue().count("\n") == 2


def test_terminal_progress_limits_redraws_of_a_moving_bar():
    out, clock = _Tty(), _Clock()
    p = TerminalProgress(out, clock=clock)
    p.layer(A, "Downloading", 0, 1000)
    before = out.getvalue()
    p.layer(A, "Downloading", 1, 1000)  # same instant: skipped
    assert out.getvalue() == before
    clock.now += 1
    p.layer(A, "Downloading", 2, 1000)
    assert out.getvalue() != before
    before = out.getvalue()
    p.layer(A, "Download complete")  # a status change is always drawn
    assert "Download complete" in out.getvalue()[len(before):]
    before = out.getvalue()
    p.layer(A, "Downloading", 1000, 1000)  # a finished bar is always drawn too
    assert "1kB/1kB" in out.getvalue()[len(before):]


def test_a_message_starts_a_new_block_of_lines():
    out = _Tty()
    p = TerminalProgress(out, clock=_Clock())
    p.layer(A, "Pushing", 1, 10)
    p.message("latest: digest: sha256:" + "d" * 64)
    p.layer(B, "Preparing")
    lines = [re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", line) for line in out.getvalue().splitlines()]
    assert lines[-1] == "bbbbbbbbbbbb: Preparing" and lines[-2].startswith("latest: digest:")


def test_for_stream_picks_by_terminal_and_quiet():
    assert isinstance(for_stream(io.StringIO()), TextProgress)
    assert isinstance(for_stream(_Tty()), TerminalProgress)
    quiet = for_stream(_Tty(), quiet=True)
    assert isinstance(quiet, Progress) and not isinstance(quiet, (TextProgress, TerminalProgress))
    quiet.layer(A, "Pull complete")  # reports nothing, accepts everything
    quiet.message("x")


def test_reports_from_many_threads_keep_lines_whole():
    out = io.StringIO()
    p = TextProgress(out)
    digests = ["sha256:%064x" % i for i in range(16)]

    def work(d: str) -> None:
        for status in ("Pulling fs layer", "Downloading", "Pull complete"):
            p.layer(d, status)

    threads = [threading.Thread(target=work, args=(d,)) for d in digests]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 16 * 3
    assert all(re.fullmatch(r"[0-9a-f]{12}: (Pulling fs layer|Downloading|Pull complete)", line)
               for line in lines)
