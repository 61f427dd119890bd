"""Real registries for the client tests: Debian's docker-registry (plain, htpasswd, token auth) and a
small bearer token server. Every process is started here and stopped by its PID in teardown."""
from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from registry_helpers import free_port
from testlib import ServedHTTP

REGISTRY_BIN = "/usr/bin/docker-registry"
TOKEN_SERVICE = "berth-test-registry"
TOKEN_ISSUER = "berth-test-issuer"

pytestmark = pytest.mark.skipif(not os.path.exists(REGISTRY_BIN), reason="docker-registry not installed")


@dataclass
class RegistryServer:
    host: str
    storage: Path
    pid: int
    users: dict[str, str] = field(default_factory=dict)

    def blob_data_path(self, digest: str) -> Path:
        hexa = digest.split(":", 1)[1]
        return self.storage / "docker/registry/v2/blobs/sha256" / hexa[:2] / hexa / "data"


def _start_registry(base: Path, auth_yaml: str = "") -> tuple[subprocess.Popen, str]:
    port = free_port()
    storage = base / "storage"
    storage.mkdir()
    cfg = base / "config.yml"
    cfg.write_text(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
  delete:
    enabled: true
http:
  addr: 127.0.0.1:{port}
{auth_yaml}""")
    log = open(base / "registry.log", "wb")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", str(cfg)], stdout=log, stderr=subprocess.STDOUT)
    log.close()
    host = f"127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while True:
        try:
            requests.get(f"http://{host}/v2/", timeout=1)
            return proc, host
        except requests.ConnectionError:
            if proc.poll() is not None or time.monotonic() > deadline:
                _stop(proc)
                raise RuntimeError(f"docker-registry did not start: {(base / 'registry.log').read_text()}")
            time.sleep(0.05)


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def registry() -> Iterator[RegistryServer]:
    """A registry without authentication."""
    base = Path(tempfile.mkdtemp(prefix="berth-registry-"))
    proc, host = _start_registry(base)
    try:
        yield RegistryServer(host, base / "storage", proc.pid)
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="module")
def auth_registry() -> Iterator[RegistryServer]:
    """A registry with htpasswd (Basic) authentication: user ``alice`` / ``s3cret pass``."""
    base = Path(tempfile.mkdtemp(prefix="berth-registry-auth-"))
    users = {"alice": "s3cret pass"}
    htpasswd = base / "htpasswd"
    out = subprocess.run(["htpasswd", "-Bbn", "alice", users["alice"]], capture_output=True, check=True)
    htpasswd.write_bytes(out.stdout)
    proc, host = _start_registry(base, f"""auth:
  htpasswd:
    realm: berth-test
    path: {htpasswd}
""")
    try:
        yield RegistryServer(host, base / "storage", proc.pid, users)
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)


# -- bearer token server -----------------------------------------------------------------------
def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _libtrust_key_id(der_public_key: bytes) -> str:
    """The key ID distribution derives from a certificate's public key (libtrust format)."""
    digest = hashlib.sha256(der_public_key).digest()[:30]
    b32 = base64.b32encode(digest).decode().rstrip("=")
    return ":".join(b32[i:i + 4] for i in range(0, len(b32), 4))


class TokenServer:
    """Issues RS256 JWTs the registry accepts; grants every requested scope to ``users``."""

    def __init__(self, base: Path, users: dict[str, str], token_key: str = "token") -> None:
        self.base = base
        self.users = users
        self.token_key = token_key
        self.requests: list[dict] = []  # one entry per token request: scopes, account, authorized
        self.key = base / "token.key"
        self.cert = base / "token.crt"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(self.key),
                        "-out", str(self.cert), "-days", "2", "-subj", "/CN=berth-token"],
                       capture_output=True, check=True)
        pub = subprocess.run(["openssl", "x509", "-in", str(self.cert), "-pubkey", "-noout"],
                             capture_output=True, check=True).stdout
        der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "DER"], input=pub,
                             capture_output=True, check=True).stdout
        self.kid = _libtrust_key_id(der)
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self.server = ServedHTTP(self._handler(), self.port)

    def close(self) -> None:
        self.server.close()

    def sign(self, claims: dict) -> str:
        header = {"typ": "JWT", "alg": "RS256", "kid": self.kid}
        signing_input = f"{_b64url(json.dumps(header).encode())}.{_b64url(json.dumps(claims).encode())}"
        sig = subprocess.run(["openssl", "dgst", "-sha256", "-sign", str(self.key)],
                             input=signing_input.encode(), capture_output=True, check=True).stdout
        return f"{signing_input}.{_b64url(sig)}"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                query = parse_qs(urlsplit(self.path).query)
                user = None
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    name, _sep, password = base64.b64decode(header[6:]).decode().partition(":")
                    if server.users.get(name) != password:
                        server.requests.append({"scopes": query.get("scope", []), "account": name,
                                                "authorized": False})
                        self.send_response(401)
                        self.end_headers()
                        return
                    user = name
                scopes = query.get("scope", [])
                server.requests.append({"scopes": scopes, "account": user, "authorized": user is not None,
                                        "service": query.get("service", [""])[0]})
                access = []
                if user:  # anonymous users get a token without access
                    for scope in scopes:
                        kind, name, actions = scope.split(":")
                        access.append({"type": kind, "name": name, "actions": actions.split(",")})
                now = int(time.time())
                token = server.sign({"iss": TOKEN_ISSUER, "sub": user or "", "aud": TOKEN_SERVICE,
                                     "exp": now + 300, "nbf": now - 10, "iat": now,
                                     "jti": os.urandom(8).hex(), "access": access})
                body = json.dumps({server.token_key: token, "expires_in": 300,
                                   "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        return Handler


@dataclass
class TokenRegistry:
    server: RegistryServer
    tokens: TokenServer

    @property
    def host(self) -> str:
        return self.server.host


@pytest.fixture(scope="module")
def token_registry() -> Iterator[TokenRegistry]:
    """A registry using bearer tokens from a TokenServer; user ``bob`` / ``hunter2``."""
    base = Path(tempfile.mkdtemp(prefix="berth-registry-token-"))
    users = {"bob": "hunter2"}
    tokens = TokenServer(base, users, token_key="access_token")
    try:
        proc, host = _start_registry(base, f"""auth:
  token:
    realm: {tokens.realm}
    service: {TOKEN_SERVICE}
    issuer: {TOKEN_ISSUER}
    rootcertbundle: {tokens.cert}
""")
        try:
            yield TokenRegistry(RegistryServer(host, base / "storage", proc.pid, users), tokens)
        finally:
            _stop(proc)
    finally:
        tokens.close()
        shutil.rmtree(base, ignore_errors=True)


def make_cert(base: Path, name: str) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (its own CA)."""
    key, cert = base / f"{name}.key", base / f"{name}.crt"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key),
                    "-out", str(cert), "-days", "2", "-subj", f"/CN={name}",
                    "-addext", "subjectAltName=IP:127.0.0.1"], capture_output=True, check=True)
    return key, cert


@pytest.fixture(scope="module")
def tls_registry() -> Iterator[tuple[RegistryServer, Path, Path]]:
    """A registry serving https with a self-signed certificate: (server, its CA, an unrelated CA)."""
    base = Path(tempfile.mkdtemp(prefix="berth-registry-tls-"))
    key, cert = make_cert(base, "registry")
    _other_key, other = make_cert(base, "other")
    port = free_port()
    storage = base / "storage"
    storage.mkdir()
    cfg = base / "config.yml"
    cfg.write_text(f"""version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: {storage}
http:
  addr: 127.0.0.1:{port}
  tls:
    certificate: {cert}
    key: {key}
""")
    proc = subprocess.Popen([REGISTRY_BIN, "serve", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                requests.get(f"https://127.0.0.1:{port}/v2/", timeout=1, verify=str(cert))
                break
            except requests.ConnectionError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("docker-registry (tls) did not start")
                time.sleep(0.05)
        yield RegistryServer(f"127.0.0.1:{port}", storage, proc.pid), cert, other
    finally:
        _stop(proc)
        shutil.rmtree(base, ignore_errors=True)
