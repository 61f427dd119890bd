"""HTTP transport to one registry: a requests Session, scheme choice, auth retry, redirects, errors.

Everything that touches the wire below the API paths lives here, so client.py only says which path
to call and what the reply must look like. Replies are hostile: bodies are read with size caps and
registry-supplied text is cleaned before it reaches an error message.
"""
from __future__ import annotations

import json
import re
import ssl
import warnings
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

try:
    import requests
except ImportError as exc:  # registry access needs requests; Transport() says so when used
    requests = None
    REQUESTS_IMPORT_ERROR: ImportError | None = exc
else:
    REQUESTS_IMPORT_ERROR = None

from .. import __version__
from ..errors import BerthError, NotFound, missing_library
from .auth import MAX_TOKEN_REPLY, Authenticator
from .config import DOCKER_HUB_API, is_docker_hub, is_loopback
from .errors import (AccessDenied, AuthenticationRequired, BlobUnknown, InvalidResponse, ManifestUnknown,
                     RegistryError, RegistryTLSError, RegistryUnreachable, RepositoryUnknown)

USER_AGENT = f"berth/{__version__}"
DEFAULT_TIMEOUT = (15.0, 120.0)  # (connect, read) seconds
MAX_REDIRECTS = 5
MAX_ERROR_BODY = 64 << 10
_REDIRECTS = (301, 302, 303, 307, 308)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def require_requests() -> None:
    """Raise a one-line MissingDependency if the requests library could not be imported."""
    if requests is None:
        raise missing_library("requests", "registry access", REQUESTS_IMPORT_ERROR)


def clean_text(text: str, limit: int = 200) -> str:
    """Registry-supplied text made safe for a one-line message."""
    text = _CONTROL.sub(" ", text).strip()
    return text if len(text) <= limit else text[:limit] + "..."


def _innermost(exc: BaseException) -> BaseException:
    seen = set()
    while id(exc) not in seen:
        seen.add(id(exc))
        nxt = getattr(exc, "reason", None)
        if not isinstance(nxt, BaseException):
            nxt = exc.args[0] if exc.args and isinstance(exc.args[0], BaseException) else None
        if nxt is None:
            nxt = exc.__cause__ or exc.__context__
        if nxt is None:
            break
        exc = nxt
    return exc


def _connection_error(host: str, exc: Exception) -> RegistryUnreachable:
    root = _innermost(exc)
    text = str(exc)
    if isinstance(exc, requests.exceptions.SSLError) or isinstance(root, ssl.SSLError):
        if isinstance(root, ssl.SSLCertVerificationError):
            reason = f"certificate verify failed: {root.verify_message}"
        else:
            reason = getattr(root, "reason", None) or str(root)
        return RegistryTLSError(f"TLS error talking to registry {host}: {clean_text(str(reason))}")
    if isinstance(exc, requests.exceptions.Timeout):
        return RegistryUnreachable(f"registry {host} did not answer in time")
    if "NameResolution" in type(root).__name__ or "Name or service not known" in text \
            or "Temporary failure in name resolution" in text or "nodename nor servname" in text:
        return RegistryUnreachable(f"cannot resolve registry host {host}")
    if isinstance(root, ConnectionRefusedError) or "Connection refused" in text:
        return RegistryUnreachable(f"cannot connect to registry {host}: connection refused")
    return RegistryUnreachable(f"cannot connect to registry {host}: {clean_text(str(root))}")


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return parts.scheme, parts.netloc.lower()


def error_detail(resp: requests.Response) -> tuple[list[str], str]:
    """(error codes, first message) from a distribution error body; empty if there is none."""
    try:
        body = read_capped(resp, MAX_ERROR_BODY, "error body", strict=False)
        doc = json.loads(body) if body else None
    except (ValueError, RegistryError, requests.RequestException):
        return [], ""
    if not isinstance(doc, dict) or not isinstance(doc.get("errors"), list):
        return [], ""
    codes, message = [], ""
    for err in doc["errors"]:
        if isinstance(err, dict):
            if isinstance(err.get("code"), str):
                codes.append(err["code"].upper())
            if not message and isinstance(err.get("message"), str):
                message = clean_text(err["message"])
    return codes, message


def read_capped(resp: requests.Response, limit: int, what: str, strict: bool = True) -> bytes:
    """Read a whole (streamed) body, refusing more than ``limit`` bytes."""
    length = resp.headers.get("Content-Length")
    if strict and length is not None and length.isdigit() and int(length) > limit:
        resp.close()
        raise InvalidResponse(f"{what} is {length} bytes, more than the {limit} allowed")
    chunks, total = [], 0
    try:
        for chunk in resp.iter_content(64 << 10):
            total += len(chunk)
            if total > limit:
                if not strict:
                    break
                raise InvalidResponse(f"{what} is larger than the {limit} bytes allowed")
            chunks.append(chunk)
    finally:
        resp.close()
    return b"".join(chunks)


def _unverified_adapter() -> Any:
    """An adapter for an insecure registry's own https origin: TLS without verification, and
    without the system CA store that urllib3 otherwise loads into every context it makes itself
    (40-80 ms per command, spent on certificates nobody checks)."""
    from requests.adapters import HTTPAdapter
    from urllib3.util.ssl_ import create_urllib3_context

    class UnverifiedTLS(HTTPAdapter):
        def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
            kwargs["ssl_context"] = create_urllib3_context(cert_reqs=ssl.CERT_NONE)
            super().init_poolmanager(*args, **kwargs)

    return UnverifiedTLS()


class Transport:
    """One registry's HTTP session. ``host`` is the name users see (docker.io, 127.0.0.1:5000);
    ``api_host`` the host[:port] actually contacted, by default derived from ``host``."""

    def __init__(self, host: str, insecure: bool = False, ca_bundle: str | None = None,
                 credentials: tuple[str, str] | None = None, scheme: str | None = None,
                 client_cert: tuple[str, str] | None = None,
                 timeout: tuple[float, float] = DEFAULT_TIMEOUT, api_host: str | None = None) -> None:
        require_requests()
        if not host or "/" in host or any(c.isspace() for c in host):
            raise RegistryError(f"invalid registry host {host!r}")
        self.host = host
        # api_host is where requests go (a config endpoint's host); host is the name in messages.
        self.api_host = api_host or (DOCKER_HUB_API if is_docker_hub(host) else host)
        # Loopback registries count as insecure (Docker's 127.0.0.0/8 default) unless the caller
        # gave a CA to verify them with.
        self.insecure = insecure or (is_loopback(self.api_host) and not ca_bundle)
        if scheme not in (None, "https", "http"):
            raise RegistryError(f"invalid scheme {scheme!r} for registry {host}")
        if scheme == "http" and not self.insecure:
            raise RegistryError(f"registry {host} is not insecure; refusing plain http")
        self._schemes = [scheme] if scheme else (["https", "http"] if self.insecure else ["https"])
        self.base_url: str | None = f"{scheme}://{self.api_host}" if scheme else None
        self.verify: bool | str = False if self.insecure else (ca_bundle or True)
        self.timeout = timeout
        self.session = requests.Session()
        # No netrc, no REQUESTS_CA_BUNDLE: credentials and trust come only from berth's own config.
        self.session.trust_env = False
        if self.insecure:
            self.session.mount(f"https://{self.api_host}/", _unverified_adapter())
        self.session.headers["User-Agent"] = USER_AGENT
        if client_cert:
            self.session.cert = client_cert
        self.auth = Authenticator(host, credentials, self._fetch_token,
                                  allow_plain_http_realm=self.insecure)

    def close(self) -> None:
        self.session.close()

    # -- sending -----------------------------------------------------------------------------
    def _raw(self, method: str, url: str, headers: Mapping[str, str], **kw: Any) -> requests.Response:
        same_origin = self.same_origin(url)
        verify = self.verify if same_origin else True
        proxies = requests.utils.get_environ_proxies(url)
        try:
            with warnings.catch_warnings():
                # Unverified TLS is what an insecure registry means; do not warn on every request.
                warnings.filterwarnings("ignore", message="Unverified HTTPS request")
                return self.session.request(method, url, headers=dict(headers), timeout=self.timeout,
                                            allow_redirects=False, verify=verify, proxies=proxies, **kw)
        except requests.exceptions.InvalidURL:
            raise RegistryError(f"invalid URL for registry {self.host}") from None
        except requests.RequestException as e:
            raise _connection_error(self.host if same_origin else urlsplit(url).netloc, e) from None

    def same_origin(self, url: str) -> bool:
        if self.base_url is None:
            return urlsplit(url).netloc.lower() == self.api_host.lower()
        return _origin(url) == _origin(self.base_url)

    def send(self, method: str, path_or_url: str, headers: dict[str, str], follow: bool,
             auth_origin: str | None = None, **kw: Any) -> requests.Response:
        """Send, following redirects if ``follow``. Authorization goes only to the registry itself
        (or to ``auth_origin``, the token realm), never to a host it redirects to."""
        if self.base_url is None and "://" not in path_or_url:
            return self._probe(method, path_or_url, headers, follow, **kw)
        origin = _origin(auth_origin) if auth_origin else None
        url = path_or_url if "://" in path_or_url else self.base_url + path_or_url
        for _hop in range(MAX_REDIRECTS + 1):
            if not (_origin(url) == origin if origin else self.same_origin(url)):
                headers = {k: v for k, v in headers.items() if k.lower() != "authorization"}
            resp = self._raw(method, url, headers, **kw)
            if not (follow and resp.status_code in _REDIRECTS and resp.headers.get("Location")):
                return resp
            target = urljoin(url, resp.headers["Location"])
            resp.close()
            parts = urlsplit(target)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise InvalidResponse(f"registry {self.host} redirected to an invalid URL")
            if parts.scheme == "http" and urlsplit(url).scheme == "https" and not self.insecure:
                raise InvalidResponse(f"registry {self.host} redirected from https to plain http")
            url = target
            kw.pop("params", None)  # already part of the redirect target
        raise InvalidResponse(f"registry {self.host} redirected more than {MAX_REDIRECTS} times")

    def _probe(self, method: str, path: str, headers: dict[str, str], follow: bool,
               **kw: Any) -> requests.Response:
        """First contact of an insecure registry: https (unverified), then plain http."""
        for i, scheme in enumerate(self._schemes):
            self.base_url = f"{scheme}://{self.api_host}"
            try:
                return self.send(method, path, headers, follow, **kw)
            except RegistryUnreachable:
                self.base_url = None
                if i == len(self._schemes) - 1:
                    raise
        raise AssertionError("unreachable")

    def request(self, method: str, path: str, *, scopes: Iterable[str] = (), what: str = "",
                headers: dict[str, str] | None = None, follow: bool = False,
                **kw: Any) -> requests.Response:
        """Send with the known Authorization for ``scopes``; on a 401 challenge, authenticate and
        retry once. ``what`` names the object for errors ("127.0.0.1:5000/app"). 401/403 raise."""
        scopes = tuple(scopes)
        hdrs = dict(headers or {})
        sent_auth = self.auth.authorization(scopes)
        if sent_auth:
            hdrs["Authorization"] = sent_auth
        resp = self.send(method, path, hdrs, follow, **kw)
        if resp.status_code == 401:
            challenge = resp.headers.get("WWW-Authenticate")
            resp.close()
            if not self.auth.learn(challenge):
                raise AuthenticationRequired(f"authentication required for {what or self.host}")
            hdrs["Authorization"] = self.auth.authorization(scopes, force_refresh=bool(sent_auth)) or ""
            resp = self.send(method, path, hdrs, follow, **kw)
            if resp.status_code == 401:
                resp.close()
                detail = "credentials rejected" if self.auth.has_credentials else "no credentials"
                raise AuthenticationRequired(f"authentication required for {what or self.host} ({detail})")
        if resp.status_code == 403:
            _codes, message = error_detail(resp)
            raise AccessDenied(f"access to {what or self.host} denied" + (f": {message}" if message else ""))
        return resp

    def _fetch_token(self, realm: str, params: list[tuple[str, str]],
                     headers: dict[str, str]) -> tuple[int, bytes]:
        resp = self.send("GET", realm, {**headers, "Accept": "application/json"}, True,
                         auth_origin=realm, params=params, stream=True)
        if resp.status_code != 200:
            resp.close()
            return resp.status_code, b""
        return 200, read_capped(resp, MAX_TOKEN_REPLY, "token reply")

    # -- errors ------------------------------------------------------------------------------
    def fail(self, resp: requests.Response, what: str,
             missing: type[NotFound] | None = None) -> BerthError:
        """The error for an unexpected status (consumes the body); a 404 without a known error code
        becomes ``missing`` if given."""
        status = resp.status_code
        codes, message = error_detail(resp)
        suffix = f": {message}" if message else ""
        if status == 404 or any(c.endswith("_UNKNOWN") for c in codes):
            if "BLOB_UNKNOWN" in codes:
                return BlobUnknown(f"blob unknown to registry: {what}")
            if "NAME_UNKNOWN" in codes:
                return RepositoryUnknown(f"repository {what} not found")
            if "MANIFEST_UNKNOWN" in codes:
                return ManifestUnknown(f"manifest unknown: {what}")
            if missing is ManifestUnknown:
                return ManifestUnknown(f"manifest unknown: {what}")
            if missing is BlobUnknown:
                return BlobUnknown(f"blob unknown to registry: {what}")
            return RegistryError(f"{what} not found (HTTP 404)")
        if status == 429 or "TOOMANYREQUESTS" in codes:
            return RegistryError(f"registry {self.host} refused {what}: too many requests")
        if status >= 500:
            return RegistryError(f"registry {self.host} failed on {what}: HTTP {status}{suffix}")
        code = f" {codes[0]}" if codes else ""
        return RegistryError(f"registry {self.host} rejected {what}: HTTP {status}{code}{suffix}")
