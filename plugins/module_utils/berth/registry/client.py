"""OCI distribution API client for one registry: manifests, blobs, uploads, mounts, tags.

Wire level only: paths, headers and the validation of every reply. Which endpoint to use (mirrors,
insecure fallback) is config.py/registry.py's business; what a manifest means is berth.image's.
"""
from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, Protocol
from urllib.parse import parse_qsl, urlencode, urljoin, urlsplit, urlunsplit

try:
    import requests
except ImportError:  # only Transport() can make replies to handle, and it reports the missing library
    requests = None

from ..errors import BerthError, DigestMismatch, InvalidArgument
from ..store.blobs import check_digest, sha256_digest
from .auth import Authenticator
from .errors import BlobUnknown, InvalidResponse, ManifestUnknown, RegistryError, UnsupportedMediaType
from .transport import Transport, clean_text, read_capped

# The manifest types the wire accepts (same values as berth.image.mediatypes; kept here so the wire
# client does not import the image package, which calls into this one).
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
INDEX_TYPES = (OCI_INDEX, DOCKER_MANIFEST_LIST)
MANIFEST_TYPES = (OCI_MANIFEST, DOCKER_MANIFEST)
MANIFEST_ACCEPT = ", ".join(INDEX_TYPES + MANIFEST_TYPES)

MAX_MANIFEST_SIZE = 4 << 20
MAX_TAGS_PAGE = 4 << 20
MAX_TAG_PAGES = 1000
MAX_RESUMES = 5
SMALL_BLOB = 4 << 20  # up to this size a blob is uploaded in one PUT from memory
UPLOAD_BLOCK = 1 << 20  # what an upload reads, hashes and sends at a time
READ_CHUNK = 64 << 10  # also the most a dropped connection can cost: a partial read is lost
ACCEPTED_MANIFEST_TYPES = INDEX_TYPES + MANIFEST_TYPES

_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|[-]+)[a-z0-9]+)*"
_REPO = re.compile(rf"^{_COMPONENT}(?:/{_COMPONENT})*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")
_UPLOAD_RANGE = re.compile(r"^(?:bytes=)?0-(\d+)$")
_LINK_NEXT = re.compile(r'<([^>]*)>\s*;\s*rel="?next"?')


@dataclass(frozen=True)
class Descriptor:
    media_type: str
    digest: str
    size: int


class BlobSink(Protocol):
    """Where get_blob writes: berth.store's BlobWriter fits. A sink that already holds ``size``
    bytes is resumed with a Range request (and must offer a ``hasher`` over them if get_blob
    verifies)."""

    def write(self, data: bytes) -> int: ...


def check_repository(repo: str) -> str:
    if not isinstance(repo, str) or len(repo) > 255 or not _REPO.match(repo):
        raise InvalidArgument(f"invalid repository name {repo!r}")
    return repo


def check_reference(ref: str) -> str:
    """A tag or a sha256 digest."""
    if isinstance(ref, str) and ref.startswith("sha256:"):
        return check_digest(ref)
    if not isinstance(ref, str) or not _TAG.match(ref):
        raise InvalidArgument(f"invalid tag or digest {ref!r}")
    return ref


def pull_scope(repo: str) -> str:
    return f"repository:{repo}:pull"


def push_scope(repo: str) -> str:
    return f"repository:{repo}:pull,push"


def _media_type(header: str | None) -> str:
    return (header or "").split(";", 1)[0].strip().lower()


def validate_manifest(data: bytes, content_type: str, what: str) -> str:
    """Check the JSON shape of a manifest or index; return its media type."""
    try:
        doc = json.loads(data)
    except ValueError:
        raise InvalidResponse(f"manifest {what} is not valid JSON") from None
    if not isinstance(doc, dict):
        raise InvalidResponse(f"manifest {what} is not a JSON object")
    if doc.get("schemaVersion") != 2:
        raise UnsupportedMediaType(f"unsupported manifest schema version {clean_text(repr(doc.get('schemaVersion')))} "
                                   f"for {what}")
    declared = doc.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise InvalidResponse(f"manifest {what} has a non-string mediaType")
    media_type = content_type if content_type in ACCEPTED_MANIFEST_TYPES else (declared or "")
    if not media_type and content_type in ("", "application/json", "application/octet-stream", "text/plain"):
        # OCI manifests may omit mediaType: tell index from manifest by their members.
        media_type = OCI_INDEX if "manifests" in doc else OCI_MANIFEST if "config" in doc else ""
    if media_type not in ACCEPTED_MANIFEST_TYPES:
        shown = clean_text(media_type or content_type or "(none)")
        raise UnsupportedMediaType(f"unsupported manifest media type {shown} for {what}")
    if declared and declared != media_type:
        raise InvalidResponse(f"manifest {what} declares {clean_text(declared)} but was served as {media_type}")
    key = "manifests" if media_type in INDEX_TYPES else "layers"
    if not isinstance(doc.get(key), list) or (key == "layers" and not isinstance(doc.get("config"), dict)):
        raise InvalidResponse(f"manifest {what} of type {media_type} lacks its {key}")
    return media_type


def _header_digest(resp: requests.Response) -> str | None:
    value = resp.headers.get("Docker-Content-Digest")
    if not value or not value.startswith("sha256:"):
        return None  # other algorithms cannot be checked here; we verify content ourselves
    try:
        return check_digest(value.strip())
    except InvalidArgument:
        raise InvalidResponse("registry sent a malformed Docker-Content-Digest header") from None


class RegistryClient:
    """Client of one registry host. ``credentials`` is (username, password) or None; ``scheme``
    pins https/http (else https, falling back to http for insecure hosts); ``api_host`` overrides
    the host contacted (a mirror or docker.io's API host) while messages keep naming ``host``;
    ``chunk_size`` caps the bytes one upload request carries (default: a blob streams in one)."""

    def __init__(self, host: str, insecure: bool = False, ca_bundle: str | None = None,
                 credentials: tuple[str, str] | None = None, *, scheme: str | None = None,
                 client_cert: tuple[str, str] | None = None, chunk_size: int | None = None,
                 api_host: str | None = None) -> None:
        self.transport = Transport(host, insecure, ca_bundle, credentials, scheme, client_cert,
                                   api_host=api_host)
        if chunk_size is not None and chunk_size <= 0:
            raise InvalidArgument(f"invalid upload chunk size {chunk_size}")
        self.host = host
        self.chunk_size = chunk_size

    def __repr__(self) -> str:
        return f"RegistryClient({self.host!r})"

    def close(self) -> None:
        self.transport.close()

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def auth(self) -> Authenticator:
        """Authentication state (challenge, token cache) of this client."""
        return self.transport.auth

    def _what(self, repo: str, ref: str = "") -> str:
        sep = "@" if ref.startswith("sha256:") else ":"
        return f"{self.host}/{repo}" + (f"{sep}{ref}" if ref else "")

    # -- base --------------------------------------------------------------------------------
    def ping(self) -> None:
        """GET /v2/: the host speaks the distribution API (200, or 401 with a challenge)."""
        resp = self.transport.send("GET", "/v2/", {}, False, stream=True)
        status = resp.status_code
        if status == 401:
            self.transport.auth.learn(resp.headers.get("WWW-Authenticate"))
        resp.close()
        if status not in (200, 401):
            raise RegistryError(f"{self.host} does not look like a registry: GET /v2/ answered HTTP {status}")

    def verify_login(self) -> None:
        """GET /v2/ with this client's credentials; raises AuthenticationRequired if they fail."""
        resp = self.transport.request("GET", "/v2/", what=self.host, stream=True)
        status = resp.status_code
        resp.close()
        if status != 200:
            raise RegistryError(f"login to {self.host} failed: GET /v2/ answered HTTP {status}")

    # -- manifests ---------------------------------------------------------------------------
    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        """(raw bytes, media type, digest of the raw bytes); verified against ``ref`` if a digest."""
        check_repository(repo)
        check_reference(ref)
        what = self._what(repo, ref)
        resp = self.transport.request("GET", f"/v2/{repo}/manifests/{ref}", scopes=[pull_scope(repo)],
                                      what=what, headers={"Accept": MANIFEST_ACCEPT}, stream=True)
        if resp.status_code != 200:
            raise self.transport.fail(resp, what, ManifestUnknown)
        content_type = _media_type(resp.headers.get("Content-Type"))
        header_digest = _header_digest(resp)
        data = read_capped(resp, MAX_MANIFEST_SIZE, f"manifest {what}")
        digest = sha256_digest(data)
        expected = ref if ref.startswith("sha256:") else header_digest
        if expected and digest != expected:
            raise DigestMismatch(f"manifest {what} hashes to {digest}, expected {expected}")
        return data, validate_manifest(data, content_type, what), digest

    def head_manifest(self, repo: str, ref: str) -> Descriptor | None:
        """The manifest's descriptor without its body, or None if it does not exist."""
        check_repository(repo)
        check_reference(ref)
        what = self._what(repo, ref)
        resp = self.transport.request("HEAD", f"/v2/{repo}/manifests/{ref}", scopes=[pull_scope(repo)],
                                      what=what, headers={"Accept": MANIFEST_ACCEPT})
        resp.close()
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self.transport.fail(resp, what)
        digest = _header_digest(resp)
        length = resp.headers.get("Content-Length", "")
        media_type = _media_type(resp.headers.get("Content-Type"))
        if digest is None or not length.isdigit() or media_type not in ACCEPTED_MANIFEST_TYPES:
            # Not enough to trust: fetch and hash it.
            data, media_type, digest = self.get_manifest(repo, ref)
            return Descriptor(media_type, digest, len(data))
        if ref.startswith("sha256:") and digest != ref:
            raise DigestMismatch(f"registry reports digest {digest} for manifest {what}")
        if int(length) > MAX_MANIFEST_SIZE:
            raise InvalidResponse(f"manifest {what} is {length} bytes, more than {MAX_MANIFEST_SIZE} allowed")
        return Descriptor(media_type, digest, int(length))

    def put_manifest(self, repo: str, ref: str, data: bytes, media_type: str) -> str:
        check_repository(repo)
        check_reference(ref)
        what = self._what(repo, ref)
        if len(data) > MAX_MANIFEST_SIZE:
            raise InvalidArgument(f"manifest for {what} is larger than {MAX_MANIFEST_SIZE} bytes")
        if validate_manifest(data, media_type, what) != media_type:
            raise InvalidArgument(f"manifest for {what} is not of type {media_type}")
        digest = sha256_digest(data)
        if ref.startswith("sha256:") and ref != digest:
            raise DigestMismatch(f"manifest hashes to {digest}, not {ref}")
        resp = self.transport.request("PUT", f"/v2/{repo}/manifests/{ref}", scopes=[push_scope(repo)],
                                      what=what, headers={"Content-Type": media_type}, data=data)
        if resp.status_code not in (200, 201):
            raise self.transport.fail(resp, f"manifest {what}")
        returned = _header_digest(resp)
        resp.close()
        if returned and returned != digest:
            raise DigestMismatch(f"registry stored manifest {what} as {returned}, expected {digest}")
        return digest

    def list_tags(self, repo: str, page_size: int | None = None) -> list[str]:
        """All tags, following ``Link: <...>; rel="next"`` pages (``page_size`` asks for ``n``)."""
        check_repository(repo)
        what = self._what(repo)
        tags: list[str] = []
        base = f"/v2/{repo}/tags/list"
        path = base + (f"?{urlencode({'n': page_size})}" if page_size else "")
        for _page in range(MAX_TAG_PAGES):
            resp = self.transport.request("GET", path, scopes=[pull_scope(repo)], what=what, stream=True)
            if resp.status_code != 200:
                raise self.transport.fail(resp, what)
            link = resp.headers.get("Link", "")
            try:
                doc = json.loads(read_capped(resp, MAX_TAGS_PAGE, f"tag list of {what}"))
            except ValueError:
                raise InvalidResponse(f"tag list of {what} is not valid JSON") from None
            page = doc.get("tags") if isinstance(doc, dict) else None
            if page is None and isinstance(doc, dict):
                page = []
            if not isinstance(page, list) or not all(isinstance(t, str) and _TAG.match(t) for t in page):
                raise InvalidResponse(f"tag list of {what} is malformed")
            tags.extend(page)
            match = _LINK_NEXT.search(link)
            if not match:
                return tags
            nxt = urlsplit(urljoin(self.transport.base_url or "", match.group(1)))
            if not self.transport.same_origin(nxt.geturl()) or nxt.path != base:
                raise InvalidResponse(f"tag list of {what} links to another location")
            path = nxt.path + (f"?{nxt.query}" if nxt.query else "")
        raise InvalidResponse(f"tag list of {what} has more than {MAX_TAG_PAGES} pages")

    # -- blobs -------------------------------------------------------------------------------
    def head_blob(self, repo: str, digest: str) -> int | None:
        """The blob's size if the repository has it, else None."""
        check_repository(repo)
        check_digest(digest)
        what = self._what(repo, digest)
        resp = self.transport.request("HEAD", f"/v2/{repo}/blobs/{digest}", scopes=[pull_scope(repo)],
                                      what=what, follow=True)
        resp.close()
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise self.transport.fail(resp, what)
        length = resp.headers.get("Content-Length", "")
        if not length.isdigit():
            raise InvalidResponse(f"registry sent no valid size for blob {what}")
        returned = _header_digest(resp)
        if returned and returned != digest:
            raise DigestMismatch(f"registry reports digest {returned} for blob {what}")
        return int(length)

    def get_blob(self, repo: str, digest: str, dest_writer: BlobSink, size: int | None = None, *,
                 verify: bool = True) -> int:
        """Stream a blob into ``dest_writer``, holding it to ``size``; return its size.

        With ``verify`` the content is hashed here and DigestMismatch raised before the caller
        commits anything. ``verify=False`` is for a sink that checks the digest itself before it
        commits (berth.store's BlobWriter given ``digest``): every byte is then hashed once, there.
        A dropped connection is resumed with a Range request; a sink that already holds bytes is
        continued the same way (when verifying, it must offer a ``hasher`` over them)."""
        check_repository(repo)
        check_digest(digest)
        what = self._what(repo, digest)
        offset = int(getattr(dest_writer, "size", 0) or 0)
        hasher: Any = None
        if verify:
            hasher = hashlib.sha256()
            if offset:
                prefix = getattr(dest_writer, "hasher", None)
                if prefix is None:
                    raise InvalidArgument("cannot resume a blob download into a sink without a hasher")
                hasher = prefix.copy()
        if size is not None and offset > size:
            raise DigestMismatch(f"blob {what} is larger than its announced size {size}")
        failures = 0
        while True:
            headers = {"Accept-Encoding": "identity"}
            if offset:
                headers["Range"] = f"bytes={offset}-"
            resp = self.transport.request("GET", f"/v2/{repo}/blobs/{digest}", scopes=[pull_scope(repo)],
                                          what=what, headers=headers, follow=True, stream=True)
            before = offset
            try:
                skip = self._check_blob_reply(resp, what, offset, size)
                for chunk in resp.iter_content(READ_CHUNK):
                    if skip:
                        dropped = min(skip, len(chunk))
                        chunk, skip = chunk[dropped:], skip - dropped
                    if size is not None and offset + len(chunk) > size:
                        raise DigestMismatch(f"blob {what} is larger than its announced size {size}")
                    if hasher is not None:
                        hasher.update(chunk)
                    dest_writer.write(chunk)
                    offset += len(chunk)
                if size is None or offset == size:
                    break
                error = f"ended after {offset} of {size} bytes"
            except requests.RequestException as e:
                error = clean_text(str(e))
            finally:
                resp.close()
            failures = 0 if offset > before else failures + 1
            if failures >= MAX_RESUMES:
                raise RegistryError(f"download of blob {what} failed: {error}")
        if hasher is not None and "sha256:" + hasher.hexdigest() != digest:
            raise DigestMismatch(f"blob {what} failed verification: content hashes to "
                                 f"sha256:{hasher.hexdigest()}")
        return offset

    def _check_blob_reply(self, resp: requests.Response, what: str, offset: int, size: int | None) -> int:
        """Validate status and length of a blob reply; return how many leading bytes to skip."""
        length = resp.headers.get("Content-Length")
        if length is not None and not length.isdigit():
            raise InvalidResponse(f"registry sent an invalid Content-Length for blob {what}")
        if resp.status_code == 206 and offset:
            match = _CONTENT_RANGE.match(resp.headers.get("Content-Range", ""))
            if not match or int(match.group(1)) != offset or (
                    size is not None and match.group(3) != "*" and int(match.group(3)) != size):
                raise InvalidResponse(f"registry sent a wrong range of blob {what}")
            expected, skip = (size - offset if size is not None else None), 0
        elif resp.status_code == 200:
            expected, skip = size, offset  # the server ignored Range: drop what we already have
        elif resp.status_code == 404:
            resp.close()
            raise BlobUnknown(f"blob unknown to registry: {what}")
        else:
            raise self.transport.fail(resp, f"blob {what}")
        if expected is not None and length is not None and int(length) != expected:
            raise DigestMismatch(f"registry announces {length} bytes for blob {what}, expected {expected}")
        return skip

    def mount_blob(self, repo: str, digest: str, from_repo: str) -> bool:
        """Ask the registry to link a blob from another repository; True if it did."""
        check_repository(repo)
        check_repository(from_repo)
        check_digest(digest)
        what = self._what(repo, digest)
        query = urlencode({"mount": digest, "from": from_repo})
        resp = self.transport.request("POST", f"/v2/{repo}/blobs/uploads/?{query}",
                                      scopes=[push_scope(repo), pull_scope(from_repo)], what=what)
        resp.close()
        if resp.status_code == 201:
            return True
        if resp.status_code == 202:  # not mounted: the registry opened an upload we do not need
            self._cancel_upload(repo, self._upload_url(resp, what))
            return False
        raise self.transport.fail(resp, f"mount of {what} from {from_repo}")

    def upload_blob(self, repo: str, digest: str, size: int, fileobj: BinaryIO) -> str:
        """Upload ``size`` bytes from ``fileobj`` as blob ``digest``; a failed upload is cancelled.

        A small blob goes in one PUT. A larger one streams from ``fileobj`` as the body of one
        PATCH (or of PATCHes of at most ``chunk_size`` bytes when the client was given one, for
        registries or proxies that cap request bodies), hashed on the way; the upload is closed
        (PUT ``?digest=``) only once what was sent hashes to ``digest``."""
        check_repository(repo)
        check_digest(digest)
        what = self._what(repo, digest)
        scopes = [push_scope(repo)]
        resp = self.transport.request("POST", f"/v2/{repo}/blobs/uploads/", scopes=scopes, what=what)
        if resp.status_code != 202:
            raise self.transport.fail(resp, f"upload of {what}")
        resp.close()
        location = self._upload_url(resp, what)
        try:
            hasher = hashlib.sha256()
            body = b""
            if size <= min(self.chunk_size or SMALL_BLOB, SMALL_BLOB):
                body = _read_exact(fileobj, size, digest)
                hasher.update(body)
            else:
                span = self.chunk_size or size
                for start in range(0, size, span):
                    part = StreamedBody(fileobj, min(span, size - start), hasher, digest)
                    location = self._patch(repo, location, part, start, what)
            if fileobj.read(1):
                raise InvalidArgument(f"blob {digest} source is larger than {size} bytes")
            if "sha256:" + hasher.hexdigest() != digest:
                raise DigestMismatch(f"blob source hashes to sha256:{hasher.hexdigest()}, not {digest}: "
                                     f"upload to {self.host}/{repo} cancelled")
            resp = self.transport.request(
                "PUT", _add_query(location, digest=digest), scopes=scopes, what=what, data=body,
                headers={"Content-Type": "application/octet-stream", "Content-Length": str(len(body))})
            if resp.status_code not in (201, 204):
                raise self.transport.fail(resp, f"upload of {what}")
            returned = _header_digest(resp)
            resp.close()
            if returned and returned != digest:
                raise DigestMismatch(f"registry stored blob {what} as {returned}")
        except BaseException:
            self._cancel_upload(repo, location)
            raise
        return digest

    def _patch(self, repo: str, location: str, body: StreamedBody, start: int, what: str) -> str:
        end = start + len(body) - 1
        resp = self.transport.request(
            "PATCH", location, scopes=[push_scope(repo)], what=what, data=body,
            headers={"Content-Type": "application/octet-stream", "Content-Range": f"{start}-{end}",
                     "Content-Length": str(len(body))})
        if resp.status_code != 202:
            raise self.transport.fail(resp, f"upload of {what}")
        resp.close()
        received = _UPLOAD_RANGE.match(resp.headers.get("Range", f"0-{end}"))
        if not received or int(received.group(1)) != end:
            raise InvalidResponse(f"registry acknowledged a wrong range while uploading {what}")
        return self._upload_url(resp, what)

    def _upload_url(self, resp: requests.Response, what: str) -> str:
        location = resp.headers.get("Location")
        if not location:
            raise InvalidResponse(f"registry sent no upload location for {what}")
        url = urljoin(self.transport.base_url or "", location)
        if urlsplit(url).scheme not in ("http", "https"):
            raise InvalidResponse(f"registry sent an invalid upload location for {what}")
        return url

    def _cancel_upload(self, repo: str, location: str) -> None:
        try:
            self.transport.request("DELETE", location, scopes=[push_scope(repo)]).close()
        except Exception:  # noqa: BLE001 - best effort; uploads also expire on the registry
            pass


class StreamedBody:
    """``length`` bytes of ``source`` as a request body, read in large blocks and hashed into
    ``hasher`` as they are sent. requests takes its size from ``len()`` and sends it with that
    Content-Length, not chunked. It can be sent once: a request that would send it again (an auth
    retry after the registry answered without reading it) fails with one line instead of hanging
    on a body that is already spent."""

    def __init__(self, source: BinaryIO, length: int, hasher: Any, digest: str) -> None:
        self._source, self._length, self._hasher, self._digest = source, length, hasher, digest
        self._spent = False

    def __len__(self) -> int:
        return self._length

    def __iter__(self) -> Iterator[bytes]:
        if self._spent:
            raise RegistryError(f"the registry refused the upload of blob {self._digest} after its data "
                                "was sent")
        self._spent = True
        left = self._length
        while left:
            try:
                block = self._source.read(min(UPLOAD_BLOCK, left))
            except OSError as e:  # not a connection error: urllib3 would report it as one
                raise BerthError(f"reading blob {self._digest} for upload failed: {e}") from None
            if not block:
                raise InvalidArgument(f"blob {self._digest} source ended {left} bytes short")
            self._hasher.update(block)
            left -= len(block)
            yield block


def _add_query(url: str, **params: str) -> str:
    parts = urlsplit(url)
    query = parse_qsl(parts.query, keep_blank_values=True) + list(params.items())
    return urlunsplit((parts.scheme, parts.netloc, parts.path, urlencode(query), parts.fragment))


def _read_exact(fileobj: BinaryIO, size: int, digest: str) -> bytes:
    parts, got = [], 0
    while got < size:
        chunk = fileobj.read(size - got)
        if not chunk:
            raise InvalidArgument(f"blob {digest} source ended after {got} of {size} bytes")
        parts.append(chunk)
        got += len(chunk)
    return b"".join(parts)
