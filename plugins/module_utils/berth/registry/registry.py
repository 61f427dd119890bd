"""A registry as configured: pulls go through the endpoints in order (mirrors, then the origin over
https, then plain http for insecure registries); pushes go to the origin only.

Docker's fallback rules: an unreachable endpoint is skipped, and a mirror that fails in any way
(missing content, auth, errors) is skipped too; the origin's answer is final. Endpoints found dead
are tried last for the rest of this object's life.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from ..errors import NotFound
from .client import BlobSink, Descriptor, RegistryClient
from .config import DaemonConfig, Endpoint
from .credentials import CredentialStore
from .errors import RegistryError, RegistryUnreachable

T = TypeVar("T")


class Registry:
    def __init__(self, host: str, config: DaemonConfig | None = None,
                 credentials: CredentialStore | None = None, chunk_size: int | None = None) -> None:
        self.host = host
        self.config = config or DaemonConfig.load()
        self.credentials = credentials or CredentialStore()
        self.endpoints: list[Endpoint] = self.config.endpoints_for(host)
        self.chunk_size = chunk_size
        self._clients: dict[str, RegistryClient] = {}
        self._dead: set[str] = set()
        self._origin: RegistryClient | None = None
        self.last_endpoint: Endpoint | None = None  # the endpoint that served the last pull call

    def __enter__(self) -> Registry:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def client(self, endpoint: Endpoint) -> RegistryClient:
        client = self._clients.get(endpoint.url)
        if client is None:
            # Mirrors get their own credentials if any were stored for them, else Docker Hub's.
            creds = (self.credentials.get(endpoint.host) if endpoint.is_mirror else None) \
                or self.credentials.get(self.host)
            client = RegistryClient(endpoint.host if endpoint.is_mirror else self.host, endpoint.insecure,
                                    endpoint.ca, creds, scheme=endpoint.scheme, api_host=endpoint.host,
                                    client_cert=endpoint.client_cert, chunk_size=self.chunk_size)
            self._clients[endpoint.url] = client
        return client

    def _pull(self, op: Callable[[RegistryClient], T]) -> T:
        ordered = [e for e in self.endpoints if e.url not in self._dead] + \
                  [e for e in self.endpoints if e.url in self._dead]
        last: Exception | None = None
        for endpoint in ordered:
            try:
                result = op(self.client(endpoint))
            except RegistryUnreachable as e:
                self._dead.add(endpoint.url)
                last = e
                continue
            except (RegistryError, NotFound) as e:
                if not endpoint.is_mirror:
                    raise
                last = e
                continue
            self._dead.discard(endpoint.url)
            self.last_endpoint = endpoint
            return result
        raise last or RegistryUnreachable(f"no endpoint configured for registry {self.host}")

    # -- pull side ---------------------------------------------------------------------------
    def get_manifest(self, repo: str, ref: str) -> tuple[bytes, str, str]:
        return self._pull(lambda c: c.get_manifest(repo, ref))

    def head_manifest(self, repo: str, ref: str) -> Descriptor | None:
        return self._pull(lambda c: c.head_manifest(repo, ref))

    def head_blob(self, repo: str, digest: str) -> int | None:
        return self._pull(lambda c: c.head_blob(repo, digest))

    def get_blob(self, repo: str, digest: str, dest_writer: BlobSink, size: int | None = None, *,
                 verify: bool = True) -> int:
        # A mirror that dies mid-blob leaves bytes in the sink; the next endpoint resumes after them.
        return self._pull(lambda c: c.get_blob(repo, digest, dest_writer, size, verify=verify))

    def list_tags(self, repo: str) -> list[str]:
        return self._pull(lambda c: c.list_tags(repo))

    # -- push side ---------------------------------------------------------------------------
    def origin(self) -> RegistryClient:
        """The client for the registry itself (never a mirror), after a successful ping."""
        if self._origin is not None:
            return self._origin
        last: RegistryUnreachable | None = None
        for endpoint in self.endpoints:
            if endpoint.is_mirror:
                continue
            client = self.client(endpoint)
            try:
                client.ping()
            except RegistryUnreachable as e:
                last = e
                continue
            self._origin = client
            return client
        raise last or RegistryUnreachable(f"no endpoint configured for registry {self.host}")
