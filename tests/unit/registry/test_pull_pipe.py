"""The pull's chunk pipe between the download thread and ingest: order, bounds, both ends closing."""
from __future__ import annotations

import importlib
import threading
import time

import pytest

pull = importlib.import_module("berth.registry.pull")


def test_chunks_arrive_in_order_joined_up_to_the_size_asked() -> None:
    pipe = pull._ChunkPipe(limit=1 << 20)
    for part in (b"ab", b"cde", b"f"):
        pipe.write(part)
    pipe.close_writer()
    assert pipe.read(4) == b"abcd"  # joined, and the third chunk split
    assert pipe.read(100) == b"ef"
    assert pipe.read(100) == b""
    assert pipe.read(100) == b""


def test_read_all_and_a_single_chunk_is_handed_over_as_is() -> None:
    pipe = pull._ChunkPipe()
    chunk = b"x" * 1000
    pipe.write(chunk)
    assert pipe.read(5000) is chunk  # no copy
    pipe.write(b"y")
    pipe.write(b"z")
    pipe.close_writer()
    assert pipe.read() == b"yz"


def test_writer_waits_while_the_pipe_is_full() -> None:
    pipe = pull._ChunkPipe(limit=10)
    pipe.write(b"0123456789")
    done = threading.Event()

    def writer() -> None:
        pipe.write(b"more")
        done.set()

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.1)
    assert not done.is_set()  # held back: the pipe holds its limit
    assert pipe.read(3) == b"012"
    thread.join(5)
    assert done.is_set()
    pipe.close_writer()
    assert pipe.read(100) == b"3456789more"


def test_reader_going_away_fails_the_writer_at_once() -> None:
    pipe = pull._ChunkPipe(limit=4)
    pipe.write(b"full")
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            pipe.write(b"blocked")
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    time.sleep(0.05)
    pipe.close()
    thread.join(5)
    assert not thread.is_alive()
    assert errors and isinstance(errors[0], BrokenPipeError)
    with pytest.raises(BrokenPipeError):
        pipe.write(b"late")


def test_reader_waits_for_data_or_the_end() -> None:
    pipe = pull._ChunkPipe()
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.append(pipe.read(10)))
    thread.start()
    time.sleep(0.05)
    assert not got
    pipe.close_writer()
    thread.join(5)
    assert got == [b""]


def test_sink_forwards_and_counts_without_hashing() -> None:
    """ingest's blob writer hashes the layer and verifies it before committing: the sink does not
    hash it again, also when a download would resume on another server (that needs only ``size``)."""
    from berth.registry.progress import Progress

    pipe = pull._ChunkPipe()
    sink = pull._PipeSink(pipe, "sha256:" + "0" * 64, 3, Progress(), threading.Event())
    assert sink.write(b"abc") == 3
    assert sink.size == 3
    assert pipe.read() == b"abc"
    assert not hasattr(sink, "hasher")


def test_cancelled_sink_stops_the_download() -> None:
    from berth.registry.progress import Progress

    cancel = threading.Event()
    sink = pull._PipeSink(pull._ChunkPipe(), "sha256:" + "0" * 64, 3, Progress(), cancel)
    cancel.set()
    with pytest.raises(pull.Cancelled):
        sink.write(b"abc")
    assert sink.size == 0


def test_closing_ends_a_read_that_is_still_waiting() -> None:
    """ingest gave up while its decoder thread still waits for the download: it must not hang."""
    pipe = pull._ChunkPipe()
    got: list[bytes] = []
    thread = threading.Thread(target=lambda: got.append(pipe.read(10)))
    thread.start()
    time.sleep(0.05)
    pipe.close()
    thread.join(5)
    assert got == [b""]
