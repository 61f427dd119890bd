"""Requests, responses and the route table of berthd (the wire side, no engine knowledge).

A handler is ``handler(ctx, req, **path_params) -> Response``. Paths follow the Docker Engine API;
a ``/v1.NN`` prefix is stripped before matching, so every client version reaches the same routes.
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Callable, Optional
from urllib.parse import parse_qs, unquote, urlsplit

from ..errors import InvalidArgument

_VERSION_PREFIX = re.compile(r"^/v(\d+)\.(\d+)(?=/)")
_PARAM = re.compile(r"\{(\w+)(:path)?\}")
_TRUE = ("1", "true", "True", "yes")


@dataclass
class Request:
    method: str
    path: str                      # without the version prefix, percent-decoded per segment
    query: dict[str, list[str]]
    headers: Any                   # email.message.Message (case-insensitive get)
    body: BinaryIO
    api_version: Optional[str] = None
    raw: Any = None                # the http.server handler (for connection hijacking)

    def arg(self, name: str, default: str = "") -> str:
        values = self.query.get(name)
        return values[-1] if values else default

    def flag(self, name: str, default: bool = False) -> bool:
        if name not in self.query:
            return default
        return self.arg(name) in _TRUE

    def int_arg(self, name: str, default: Optional[int] = None) -> Optional[int]:
        text = self.arg(name)
        if text == "":
            return default
        try:
            return int(text)
        except ValueError:
            raise InvalidArgument(f"invalid value for {name}: {text!r}") from None

    def json_arg(self, name: str) -> Any:
        """A query parameter holding JSON (Docker's ``filters``, ``buildargs``, ``labels``)."""
        text = self.arg(name)
        if not text:
            return None
        try:
            return json.loads(text)
        except ValueError:
            raise InvalidArgument(f"invalid JSON in {name}: {text[:80]!r}") from None

    def read_body(self, limit: int = 16 << 20) -> bytes:
        data = self.body.read(limit + 1)
        if len(data) > limit:
            raise InvalidArgument(f"request body larger than {limit} bytes")
        return data

    def json_body(self) -> Any:
        data = self.read_body()
        if not data.strip():
            return {}
        try:
            return json.loads(data)
        except ValueError as e:
            raise InvalidArgument(f"invalid JSON body: {e}") from None


@dataclass
class Response:
    """A whole body (``body``), a stream of chunks (``chunks``), or a hijack (``hijack``)."""
    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    chunks: Optional[Iterable[bytes]] = None
    hijack: Optional[Callable[[Any], None]] = None  # gets the raw handler after "101 UPGRADED"


def json_response(value: Any, status: int = 200) -> Response:
    return Response(status, json.dumps(value).encode() + b"\n")


def no_content() -> Response:
    return Response(204, b"", content_type="")


def text_response(text: str, status: int = 200) -> Response:
    return Response(status, text.encode(), content_type="text/plain; charset=utf-8")


def json_stream(items: Iterable[Any]) -> Response:
    """Docker's streaming JSON: one object per line, each sent as its own chunk."""
    def chunks() -> Iterator[bytes]:
        for item in items:
            yield json.dumps(item).encode() + b"\r\n"
    return Response(200, content_type="application/json", chunks=chunks())


Handler = Callable[..., Response]


class Router:
    def __init__(self) -> None:
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        def param(m: re.Match[str]) -> str:
            return f"(?P<{m.group(1)}>.+)" if m.group(2) else f"(?P<{m.group(1)}>[^/]+)"
        regex = re.compile("^" + _PARAM.sub(param, pattern) + "/?$")
        self._routes.append((method.upper(), regex, handler))

    def match(self, method: str, path: str) -> tuple[Optional[Handler], dict[str, str], bool]:
        """(handler, params, path_known): ``path_known`` tells 404 from 405."""
        method = "GET" if method == "HEAD" else method
        known = False
        for route_method, regex, handler in self._routes:
            m = regex.match(path)
            if m:
                known = True
                if route_method == method:
                    return handler, {k: unquote(v) for k, v in m.groupdict().items()}, True
        return None, {}, known


def split_target(target: str) -> tuple[str, Optional[str], dict[str, list[str]]]:
    """``/v1.47/containers/json?all=1`` -> ("/containers/json", "1.47", {"all": ["1"]})."""
    parts = urlsplit(target)
    path = parts.path or "/"
    version = None
    m = _VERSION_PREFIX.match(path)
    if m:
        version = f"{m.group(1)}.{m.group(2)}"
        path = path[m.end():]
    return path, version, parse_qs(parts.query, keep_blank_values=True)
