"""Registry credentials in Docker's config.json format: ``{"auths": {"host": {"auth": b64(user:pass)}}}``.

Stored at ``<BERTH_CONFIG>/config.json`` with mode 0600, written atomically (temp file, fsync, rename)
and preserving keys berth does not use. Docker Hub is keyed ``https://index.docker.io/v1/`` as Docker
does; other hosts by host[:port].
"""
from __future__ import annotations

import base64
import binascii
import json
import os
import tempfile
from typing import Any

from ..errors import InvalidArgument
from ..paths import config_dir
from .config import DaemonConfig, is_docker_hub
from .errors import RegistryUnreachable

INDEX_SERVER = "https://index.docker.io/v1/"


def normalize_host(host: str) -> str:
    """The config.json key for a registry: docker.io aliases -> INDEX_SERVER, else host[:port]."""
    text = host.strip()
    if not text:
        raise InvalidArgument("empty registry host")
    if text == INDEX_SERVER:
        return INDEX_SERVER
    bare = text
    for prefix in ("https://", "http://"):
        if bare.lower().startswith(prefix):
            bare = bare[len(prefix):]
    bare = bare.split("/", 1)[0]
    if not bare:
        raise InvalidArgument(f"invalid registry host {host!r}")
    return INDEX_SERVER if is_docker_hub(bare) else bare.lower()


class CredentialStore:
    def __init__(self, path: str | None = None) -> None:
        self.path = path or os.path.join(config_dir(), "config.json")

    def _load(self) -> dict[str, Any]:
        try:
            with open(self.path, "rb") as f:
                doc = json.load(f)
        except FileNotFoundError:
            return {}
        except ValueError:
            raise InvalidArgument(f"credentials file {self.path} is not valid JSON") from None
        if not isinstance(doc, dict) or not isinstance(doc.get("auths", {}), dict):
            raise InvalidArgument(f"credentials file {self.path} is malformed: expected an 'auths' object")
        return doc

    def _save(self, doc: dict[str, Any]) -> None:
        directory = os.path.dirname(self.path) or "."
        os.makedirs(directory, mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".config.json.", dir=directory)
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as f:
                json.dump(doc, f, indent="\t")
                f.write("\n")
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def _find_key(self, auths: dict[str, Any], host: str) -> str | None:
        """The stored key matching ``host``: exact, or with a scheme/path as older clients wrote it."""
        wanted = normalize_host(host)
        if wanted in auths:
            return wanted
        for key in auths:
            try:
                if normalize_host(key) == wanted:
                    return key
            except InvalidArgument:
                continue
        return None

    def get(self, host: str) -> tuple[str, str] | None:
        auths = self._load().get("auths", {})
        key = self._find_key(auths, host)
        entry = auths.get(key) if key else None
        if not isinstance(entry, dict):
            return None
        if isinstance(entry.get("auth"), str) and entry["auth"]:
            try:
                user, sep, password = base64.b64decode(entry["auth"], validate=True).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                raise InvalidArgument(f"credentials for {key} in {self.path} are not valid base64") from None
            if not sep or not user:
                raise InvalidArgument(f"credentials for {key} in {self.path} are malformed")
            return user, password
        if isinstance(entry.get("username"), str) and isinstance(entry.get("password"), str):
            return entry["username"], entry["password"]
        return None

    def save(self, host: str, username: str, password: str) -> None:
        if not username or ":" in username:
            raise InvalidArgument("username must be non-empty and must not contain ':'")
        doc = self._load()
        auths = doc.setdefault("auths", {})
        old = self._find_key(auths, host)
        if old and old != normalize_host(host):
            del auths[old]
        token = base64.b64encode(f"{username}:{password}".encode()).decode("ascii")
        auths[normalize_host(host)] = {"auth": token}
        self._save(doc)

    def erase(self, host: str) -> bool:
        doc = self._load()
        auths = doc.get("auths", {})
        key = self._find_key(auths, host)
        if key is None:
            return False
        del auths[key]
        self._save(doc)
        return True


def login(host: str, username: str, password: str, store: CredentialStore | None = None,
          config: DaemonConfig | None = None) -> None:
    """Verify the credentials against the registry's /v2/ (Basic or Bearer), then store them."""
    from .client import RegistryClient  # the wire client needs requests; keep this module light

    config = config or DaemonConfig.load()
    error: Exception | None = None
    for endpoint in config.endpoints_for(host):
        if endpoint.is_mirror:
            continue
        client = RegistryClient(host, endpoint.insecure, endpoint.ca, (username, password),
                                scheme=endpoint.scheme, client_cert=endpoint.client_cert,
                                api_host=endpoint.host)
        try:
            client.verify_login()
            break
        except RegistryUnreachable as e:  # try the next scheme (insecure registries)
            error = e
        finally:
            client.close()
    else:
        raise error or RegistryUnreachable(f"no endpoint configured for registry {host}")
    (store or CredentialStore()).save(host, username, password)


def logout(host: str, store: CredentialStore | None = None) -> bool:
    """Forget the credentials for ``host``; False if there were none."""
    return (store or CredentialStore()).erase(host)


def get(host: str, store: CredentialStore | None = None) -> tuple[str, str] | None:
    return (store or CredentialStore()).get(host)
