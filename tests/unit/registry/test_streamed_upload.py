"""The streamed upload against registries that misbehave mid-upload: a body is never sent twice,
a failing source is not taken for a network error, and every failure cancels the upload."""
from __future__ import annotations

import hashlib
import io
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from test_registry_hostile_replies import CREDS, FakeServer, reply

from berth.errors import BerthError, InvalidArgument
from berth.registry import RegistryClient, RegistryError
from berth.registry import client as client_mod

UPLOAD = "/v2/app/blobs/uploads/u1"
BLOB = bytes(range(256)) * (client_mod.SMALL_BLOB // 256 + 1)  # just over the one-PUT size
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()


@pytest.fixture
def registry() -> Iterator[FakeServer]:
    server = FakeServer()
    try:
        yield server
    finally:
        server.close()


def read_body(h: BaseHTTPRequestHandler) -> int:
    return len(h.rfile.read(int(h.headers.get("Content-Length", "0"))))


def open_upload(server: FakeServer) -> list[str]:
    """POST opens the upload, DELETE cancels it; returns the list of cancelled locations."""
    cancelled: list[str] = []
    server.routes[("POST", "/v2/app/blobs/uploads/")] = lambda h: reply(h, 202, headers={"Location": UPLOAD})

    def delete(h: BaseHTTPRequestHandler) -> None:
        cancelled.append(h.path)
        reply(h, 204)

    server.routes[("DELETE", UPLOAD)] = delete
    return cancelled


def test_a_spent_body_is_not_sent_again_after_a_late_challenge(registry):
    cancelled = open_upload(registry)
    received: list[int] = []

    def patch(h: BaseHTTPRequestHandler) -> None:  # takes the data, then wants credentials
        received.append(read_body(h))
        reply(h, 401, headers={"WWW-Authenticate": 'Basic realm="fake"'})

    registry.routes[("PATCH", UPLOAD)] = patch
    with RegistryClient(registry.host, credentials=CREDS) as client:
        with pytest.raises(RegistryError, match=f"^the registry refused the upload of blob {DIGEST} after "
                                                "its data was sent$"):
            client.upload_blob("app", DIGEST, len(BLOB), io.BytesIO(BLOB))
    # The data went once, in full, in one PATCH; the retry's request was cut off before any data.
    assert received[0] == len(BLOB) and sum(received) == len(BLOB)
    assert cancelled == [UPLOAD]
    methods = [method for method, _path, _headers in registry.seen]
    assert "PUT" not in methods
    patch_headers = [headers for method, _path, headers in registry.seen if method == "PATCH"][0]
    assert patch_headers["Content-Length"] == str(len(BLOB))
    assert patch_headers["Content-Range"] == f"0-{len(BLOB) - 1}"
    assert "Transfer-Encoding" not in patch_headers


class FailingSource(io.BytesIO):
    """A blob file whose disk fails after the first block."""

    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.reads = 0

    def read(self, n: int | None = -1) -> bytes:
        self.reads += 1
        if self.reads > 1:
            raise OSError(5, "Input/output error")
        return super().read(n)


def test_a_failing_source_is_reported_as_such_and_the_upload_cancelled(registry):
    cancelled = open_upload(registry)
    registry.routes[("PATCH", UPLOAD)] = lambda h: (read_body(h), reply(h, 202, headers={"Location": UPLOAD}))
    with RegistryClient(registry.host) as client:
        with pytest.raises(BerthError, match=f"^reading blob {DIGEST} for upload failed: .*Input/output error"):
            client.upload_blob("app", DIGEST, len(BLOB), FailingSource(BLOB))
    assert cancelled == [UPLOAD]
    assert "PUT" not in [method for method, _path, _headers in registry.seen]


def test_chunk_size_must_be_positive():
    with pytest.raises(InvalidArgument, match="invalid upload chunk size 0"):
        RegistryClient("127.0.0.1:1", chunk_size=0)
