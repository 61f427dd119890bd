"""Registry authentication: WWW-Authenticate parsing, Basic credentials, Bearer tokens with a cache.

The flow is Docker's: a request is sent with whatever Authorization is known for its scope; a 401
carries a challenge; for Bearer the client fetches a token from the challenge's realm (with Basic
credentials if it has any) and retries once. Tokens are cached per (realm, service, scopes) until they
expire. Secrets never appear in errors, logs or reprs.
"""
from __future__ import annotations

import base64
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urlsplit

from .errors import AuthenticationRequired, InvalidResponse

# Docker's defaults: a token without expires_in lives 60 s; never trust one for less than that.
DEFAULT_TOKEN_TTL = 60
MIN_TOKEN_TTL = 60
# Renew this many seconds before the announced expiry so a token does not die in flight.
EXPIRY_MARGIN = 5
MAX_TOKEN_REPLY = 1 << 20

_TCHARS = frozenset("!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")


@dataclass
class Challenge:
    scheme: str  # lower case: "basic", "bearer"
    params: dict[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str | None:
        return self.params.get("realm")


def _skip(text: str, i: int, chars: str) -> int:
    while i < len(text) and text[i] in chars:
        i += 1
    return i


def _token(text: str, i: int) -> tuple[str, int]:
    j = i
    while j < len(text) and text[j] in _TCHARS:
        j += 1
    return text[i:j], j


def _quoted(text: str, i: int) -> tuple[str, int]:
    """Read a quoted-string starting at the opening quote; backslash escapes the next character."""
    out = []
    i += 1
    while i < len(text):
        c = text[i]
        if c == "\\" and i + 1 < len(text):
            out.append(text[i + 1])
            i += 2
        elif c == '"':
            return "".join(out), i + 1
        else:
            out.append(c)
            i += 1
    raise InvalidResponse("malformed WWW-Authenticate header: unterminated quoted string")


def _bare_value(text: str, i: int) -> tuple[str, int]:
    # Lenient: some servers send unquoted URLs, which hold characters outside the token grammar.
    j = i
    while j < len(text) and text[j] not in ", \t":
        j += 1
    return text[i:j], j


def parse_challenges(header: str) -> list[Challenge]:
    """Parse a WWW-Authenticate value (RFC 7235) into its challenges, in order.

    ``Bearer realm="https://a/token",service="reg",scope="repository:x:pull,push", Basic realm="r"``
    gives two challenges; parameter names are lower-cased, values are unescaped.
    """
    challenges: list[Challenge] = []
    current: Challenge | None = None
    i = 0
    while True:
        i = _skip(header, i, " \t,")
        if i >= len(header):
            return challenges
        name, j = _token(header, i)
        if not name:
            raise InvalidResponse(f"malformed WWW-Authenticate header at character {i}")
        k = _skip(header, j, " \t")
        if current is not None and k < len(header) and header[k] == "=":
            k = _skip(header, k + 1, " \t")
            if k < len(header) and header[k] == '"':
                value, i = _quoted(header, k)
            else:
                value, i = _bare_value(header, k)
            current.params[name.lower()] = value
        else:
            current = Challenge(name.lower())
            challenges.append(current)
            i = j


def basic_authorization(username: str, password: str) -> str:
    raw = f"{username}:{password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


def _parse_time(text: str) -> float | None:
    try:
        # RFC 3339; fromisoformat before 3.11 rejects "Z" and nanoseconds, so trim both.
        text = text.strip().replace("Z", "+00:00")
        if "." in text:
            head, _sep, tail = text.partition(".")
            digits = "".join(c for c in tail if c.isdigit())
            text = head + "." + digits[:6] + tail[len(digits):]
        return datetime.fromisoformat(text).timestamp()
    except (ValueError, TypeError):
        return None


def parse_token_reply(body: bytes, now: float | None = None) -> tuple[str, float]:
    """Validate a token endpoint reply; return (token, absolute expiry time)."""
    now = time.time() if now is None else now
    try:
        doc = json.loads(body)
    except ValueError:
        raise InvalidResponse("token server sent a reply that is not JSON") from None
    if not isinstance(doc, dict):
        raise InvalidResponse("token server sent a reply that is not a JSON object")
    token = doc.get("token") or doc.get("access_token")
    if not isinstance(token, str) or not token or any(c in token for c in "\r\n"):
        raise InvalidResponse("token server sent no usable token")
    ttl = doc.get("expires_in")
    if not isinstance(ttl, int) or isinstance(ttl, bool):
        ttl = DEFAULT_TOKEN_TTL
    ttl = max(ttl, MIN_TOKEN_TTL)
    expiry = now + ttl
    issued = _parse_time(doc["issued_at"]) if isinstance(doc.get("issued_at"), str) else None
    if issued is not None and issued <= now:
        # A token issued earlier (cached by a proxy) has less life left; never extend past now + ttl.
        expiry = min(expiry, max(issued + ttl, now + MIN_TOKEN_TTL / 2))
    return token, expiry - EXPIRY_MARGIN


def _scope_actions(scopes: Iterable[str]) -> dict[str, set[str]]:
    """{"repository:name": {"pull", "push"}} from scope strings "repository:name:pull,push"."""
    out: dict[str, set[str]] = {}
    for scope in scopes:
        resource, _sep, actions = scope.rpartition(":")
        out.setdefault(resource, set()).update(a for a in actions.split(",") if a)
    return out


# fetch(url, params, headers) -> (status, body bytes); supplied by the client so that TLS, proxies
# and error mapping stay in one place.
TokenFetcher = Callable[[str, "list[tuple[str, str]]", "dict[str, str]"], "tuple[int, bytes]"]


class Authenticator:
    """Per-registry authentication state: the last challenge seen and the token cache."""

    def __init__(self, registry: str, credentials: tuple[str, str] | None, fetch: TokenFetcher,
                 allow_plain_http_realm: bool = False) -> None:
        self.registry = registry
        self._credentials = credentials
        self._fetch = fetch
        self._allow_http_realm = allow_plain_http_realm
        self.challenge: Challenge | None = None
        self._tokens: dict[tuple[str, str, tuple[str, ...]], tuple[str, float]] = {}
        self.token_fetches = 0  # observable for tests and debugging

    def __repr__(self) -> str:  # never show credentials or tokens
        return f"Authenticator({self.registry!r}, credentials={'yes' if self._credentials else 'no'})"

    @property
    def has_credentials(self) -> bool:
        return self._credentials is not None

    def learn(self, header: str | None) -> bool:
        """Remember the preferred challenge from a 401; return True if it can be answered."""
        if not header:
            return False
        challenges = parse_challenges(header)
        for scheme in ("bearer", "basic"):
            for challenge in challenges:
                if challenge.scheme == scheme:
                    self.challenge = challenge
                    return scheme == "bearer" or self._credentials is not None
        return False

    def authorization(self, scopes: Iterable[str], force_refresh: bool = False) -> str | None:
        """The Authorization header value for a request needing ``scopes``, or None."""
        challenge = self.challenge
        if challenge is None:
            return None
        if challenge.scheme == "basic":
            return basic_authorization(*self._credentials) if self._credentials else None
        token = self._token(challenge, tuple(sorted(set(scopes))), force_refresh)
        return "Bearer " + token

    def _token(self, challenge: Challenge, scopes: tuple[str, ...], force: bool) -> str:
        realm = challenge.realm or ""
        service = challenge.params.get("service", "")
        key = (realm, service, scopes)
        if not force:
            cached = self._cached(realm, service, scopes)
            if cached:
                return cached
        parts = urlsplit(realm)
        if parts.scheme not in ("https", "http") or not parts.netloc:
            raise InvalidResponse(f"registry {self.registry} sent an invalid token realm")
        params: list[tuple[str, str]] = []
        if service:
            params.append(("service", service))
        for scope in scopes:
            params.append(("scope", scope))
        headers: dict[str, str] = {}
        if self._credentials:
            if parts.scheme == "http" and not self._allow_http_realm:
                raise AuthenticationRequired(
                    f"registry {self.registry} asks for credentials over plain http; refusing to send them")
            params.append(("account", self._credentials[0]))
            headers["Authorization"] = basic_authorization(*self._credentials)
        self.token_fetches += 1
        status, body = self._fetch(realm, params, headers)
        if status in (401, 403):
            what = "credentials were rejected" if self._credentials else "anonymous access was refused"
            raise AuthenticationRequired(f"authentication failed for {self.registry}: {what} by the token server")
        if status != 200:
            raise InvalidResponse(f"token server for {self.registry} answered HTTP {status}")
        token, expiry = parse_token_reply(body)
        self._tokens[key] = (token, expiry)
        return token

    def _cached(self, realm: str, service: str, scopes: tuple[str, ...]) -> str | None:
        """A live cached token whose scopes cover ``scopes`` (a pull,push token serves a pull)."""
        now = time.time()
        wanted = _scope_actions(scopes)
        for (c_realm, c_service, c_scopes), (token, expiry) in self._tokens.items():
            if (c_realm, c_service) != (realm, service) or expiry <= now:
                continue
            have = _scope_actions(c_scopes)
            if all(actions <= have.get(resource, set()) for resource, actions in wanted.items()):
                return token
        return None

    def forget_tokens(self) -> None:
        self._tokens.clear()
