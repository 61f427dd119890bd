"""Replies a real registry does not produce here: redirects to a storage host, dropped connections,
lying headers, schema 1, oversized manifests. Served by small http.server instances on 127.0.0.1."""
from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler

import pytest
from testlib import ServedHTTP, send_a_third_and_hang_up

from berth.errors import DigestMismatch
from berth.registry import InvalidResponse, RegistryClient, UnsupportedMediaType, fetch_blob
from berth.registry.auth import basic_authorization
from berth.store.blobs import BlobStore

Route = Callable[[BaseHTTPRequestHandler], None]


class FakeServer:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.seen: list[tuple[str, str, dict[str, str]]] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def handle_any(self) -> None:
                server.seen.append((self.command, self.path, dict(self.headers)))
                route = server.routes.get((self.command, self.path.split("?")[0]))
                if route is None:
                    reply(self, 404, b'{"errors": [{"code": "NOT_FOUND", "message": "no"}]}')
                else:
                    route(self)

            do_GET = do_HEAD = do_PUT = do_POST = do_PATCH = do_DELETE = handle_any  # noqa: N815

        self.server = ServedHTTP(Handler, quiet=True)
        self.host = f"127.0.0.1:{self.server.port}"

    def close(self) -> None:
        self.server.close()


def reply(h: BaseHTTPRequestHandler, status: int, body: bytes = b"", headers: dict[str, str] | None = None,
          length: int | None = None) -> None:
    h.send_response(status)
    for k, v in (headers or {}).items():
        h.send_header(k, v)
    h.send_header("Content-Length", str(len(body) if length is None else length))
    h.end_headers()
    if h.command != "HEAD":
        try:
            h.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client refused a hostile reply
            h.close_connection = True


@pytest.fixture
def servers() -> Iterator[tuple[FakeServer, FakeServer]]:
    registry, storage = FakeServer(), FakeServer()
    try:
        yield registry, storage
    finally:
        registry.close()
        storage.close()


BLOB = bytes(range(256)) * 4096 + b"tail"
DIGEST = "sha256:" + hashlib.sha256(BLOB).hexdigest()
CREDS = ("user", "pw")


def require_basic(route: Route) -> Route:
    def wrapped(h: BaseHTTPRequestHandler) -> None:
        if h.headers.get("Authorization") != basic_authorization(*CREDS):
            reply(h, 401, b"", {"WWW-Authenticate": 'Basic realm="fake"'})
        else:
            route(h)
    return wrapped


def test_blob_redirect_drops_authorization_and_resumes_after_a_dropped_connection(servers, tmp_path):
    registry, storage = servers
    registry.routes[("GET", f"/v2/app/blobs/{DIGEST}")] = require_basic(
        lambda h: reply(h, 307, headers={"Location": f"http://{storage.host}/bucket/blob?sig=abc"}))
    attempts = []

    def serve_blob(h: BaseHTTPRequestHandler) -> None:
        attempts.append(h.headers.get("Range"))
        if len(attempts) == 1:
            send_a_third_and_hang_up(h, BLOB)
            return
        if not h.headers.get("Range"):
            reply(h, 200, BLOB)
            return
        start = int(h.headers["Range"][len("bytes="):-1])
        reply(h, 206, BLOB[start:], {"Content-Range": f"bytes {start}-{len(BLOB) - 1}/{len(BLOB)}"})

    storage.routes[("GET", "/bucket/blob")] = serve_blob
    blobs = BlobStore(str(tmp_path))
    with RegistryClient(registry.host, credentials=CREDS) as client:
        assert fetch_blob(client, blobs, "app", DIGEST, len(BLOB))
    assert blobs.read(DIGEST) == BLOB
    # The second request continued where the first stopped (at a read-chunk boundary).
    assert len(attempts) == 2 and attempts[0] is None
    assert attempts[1].startswith("bytes=") and 0 < int(attempts[1][6:-1]) <= len(BLOB) // 3
    assert all("Authorization" not in headers for _method, _path, headers in storage.seen)
    assert any(headers.get("Authorization") for _method, _path, headers in registry.seen)


def test_blob_longer_than_announced_is_cut_off(servers, tmp_path):
    registry, _storage = servers
    registry.routes[("GET", f"/v2/app/blobs/{DIGEST}")] = lambda h: reply(h, 200, BLOB + b"extra")
    blobs = BlobStore(str(tmp_path))
    with RegistryClient(registry.host) as client:
        with pytest.raises(DigestMismatch):
            fetch_blob(client, blobs, "app", DIGEST, len(BLOB))
    assert not blobs.exists(DIGEST)


MANIFEST = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                       "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                                  "digest": DIGEST, "size": 1}, "layers": []}).encode()
OCI = "application/vnd.oci.image.manifest.v1+json"


def serve_manifest(registry: FakeServer, body: bytes, content_type: str, extra: dict | None = None) -> None:
    registry.routes[("GET", "/v2/app/manifests/v1")] = lambda h: reply(
        h, 200, body, {"Content-Type": content_type, **(extra or {})})


def test_manifest_accept_header_and_digest(servers):
    registry, _storage = servers
    serve_manifest(registry, MANIFEST, OCI)
    with RegistryClient(registry.host) as client:
        data, media_type, digest = client.get_manifest("app", "v1")
    assert (data, media_type, digest) == (MANIFEST, OCI, "sha256:" + hashlib.sha256(MANIFEST).hexdigest())
    accept = registry.seen[-1][2]["Accept"]
    for wanted in ("application/vnd.oci.image.index.v1+json", OCI,
                   "application/vnd.docker.distribution.manifest.list.v2+json",
                   "application/vnd.docker.distribution.manifest.v2+json"):
        assert wanted in accept


@pytest.mark.parametrize("body, content_type, extra, error, match", [
    (MANIFEST, OCI, {"Docker-Content-Digest": "sha256:" + "0" * 64}, DigestMismatch, "hashes to"),
    (b'{"schemaVersion": 1, "name": "app"}', "application/vnd.docker.distribution.manifest.v1+prettyjws",
     None, UnsupportedMediaType, "schema version 1"),
    (MANIFEST.replace(b"oci.image.manifest", b"weird.manifest"), "application/vnd.weird.manifest.v1+json",
     None, UnsupportedMediaType, "unsupported manifest media type"),
    (b"[1, 2]", OCI, None, InvalidResponse, "not a JSON object"),
    (b'{"schemaVersion": 2, "mediaType": "' + OCI.encode() + b'"}', OCI, None, InvalidResponse, "lacks"),
    (b" " * (4 << 20) + MANIFEST, OCI, None, InvalidResponse, "more than"),
])
def test_hostile_manifests_are_rejected(servers, body, content_type, extra, error, match):
    registry, _storage = servers
    serve_manifest(registry, body, content_type, extra)
    with RegistryClient(registry.host) as client:
        with pytest.raises(error, match=match):
            client.get_manifest("app", "v1")


def test_manifest_by_digest_must_hash_to_it(servers):
    registry, _storage = servers
    wanted = "sha256:" + "a" * 64
    registry.routes[("GET", f"/v2/app/manifests/{wanted}")] = lambda h: reply(h, 200, MANIFEST, {"Content-Type": OCI})
    with RegistryClient(registry.host) as client:
        with pytest.raises(DigestMismatch, match=f"expected {wanted}"):
            client.get_manifest("app", wanted)


def test_denied_and_invalid_names(servers):
    registry, _storage = servers
    registry.routes[("GET", "/v2/app/tags/list")] = lambda h: reply(
        h, 403, b'{"errors": [{"code": "DENIED", "message": "requested access to the resource is denied"}]}')
    with RegistryClient(registry.host) as client:
        with pytest.raises(Exception, match=f"access to {registry.host}/app denied: requested access"):
            client.list_tags("app")
        with pytest.raises(Exception, match="invalid repository name"):
            client.list_tags("../etc")
        with pytest.raises(Exception, match="invalid tag or digest"):
            client.get_manifest("app", "v1/../../x")


def test_tag_list_pages_are_followed_on_the_same_registry_only(servers):
    registry, storage = servers
    pages = {None: (["v1", "v2"], "/v2/app/tags/list?last=v2&n=2"), "v2": (["v3"], None)}

    def tags(h: BaseHTTPRequestHandler) -> None:
        last = h.path.partition("last=")[2].partition("&")[0] or None
        names, nxt = pages[last]
        reply(h, 200, json.dumps({"name": "app", "tags": names}).encode(),
              {"Link": f'<{nxt}>; rel="next"'} if nxt else {})

    registry.routes[("GET", "/v2/app/tags/list")] = tags
    with RegistryClient(registry.host) as client:
        assert client.list_tags("app", page_size=2) == ["v1", "v2", "v3"]
    assert [p for m, p, _headers in registry.seen] == ["/v2/app/tags/list?n=2", "/v2/app/tags/list?last=v2&n=2"]

    pages[None] = (["v1"], f"http://{storage.host}/v2/app/tags/list?last=v1")
    with RegistryClient(registry.host) as client:
        with pytest.raises(InvalidResponse, match="links to another location"):
            client.list_tags("app")
    assert storage.seen == []
