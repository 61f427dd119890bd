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


def test_sink_hashes_only_when_another_server_could_resume() -> None:
    import hashlib

    from berth.registry.errors import RegistryUnreachable
    from berth.registry.progress import Progress

    cancel = threading.Event()
    digest = "sha256:" + "0" * 64
    single = pull._PipeSink(pull._ChunkPipe(), digest, 3, Progress(), cancel, resumable=False)
    single.write(b"abc")
    assert single.size == 3
    # What get_blob asks before resuming elsewhere: refused as an unreachable endpoint, so the
    # registry's endpoint loop reports it rather than a programming error.
    with pytest.raises(RegistryUnreachable, match="broke off after 3 bytes"):
        getattr(single, "hasher", None)
    several = pull._PipeSink(pull._ChunkPipe(), digest, 3, Progress(), cancel, resumable=True)
    several.write(b"abc")
    assert several.hasher.hexdigest() == hashlib.sha256(b"abc").hexdigest()


@pytest.mark.parametrize("host, mirrors, insecure, resumable", [
    ("registry.example", [], False, False),
    ("127.0.0.1:5000", [], True, False),  # https then http: one server
    ("docker.io", ["https://mirror.example"], False, True),  # a mirror, then Docker Hub
])
def test_resumable_means_another_server(host: str, mirrors: list[str], insecure: bool,
                                        resumable: bool, tmp_path) -> None:
    from berth.registry.config import DaemonConfig

    config = DaemonConfig(mirrors, [host] if insecure else [], config_root=str(tmp_path))
    registry = pull.Registry(host, config, credentials=object())  # type: ignore[arg-type]
    assert pull._resumable(registry) is resumable


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
