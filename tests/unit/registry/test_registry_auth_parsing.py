"""WWW-Authenticate parsing and token replies."""
from __future__ import annotations

import time

import pytest

from berth.registry.auth import Authenticator, basic_authorization, parse_challenges, parse_token_reply
from berth.registry.errors import AuthenticationRequired, InvalidResponse


def test_bearer_challenge_with_quoted_commas():
    [c] = parse_challenges('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",'
                           'scope="repository:library/busybox:pull,push"')
    assert c.scheme == "bearer"
    assert c.params == {"realm": "https://auth.docker.io/token", "service": "registry.docker.io",
                        "scope": "repository:library/busybox:pull,push"}


def test_several_challenges_case_spaces_and_escapes():
    header = 'Basic realm="a \\"quoted\\" realm", BEARER  Realm = "https://t/x?a=1" , error=insufficient_scope'
    basic, bearer = parse_challenges(header)
    assert (basic.scheme, basic.params) == ("basic", {"realm": 'a "quoted" realm'})
    assert (bearer.scheme, bearer.realm, bearer.params["error"]) == ("bearer", "https://t/x?a=1",
                                                                     "insufficient_scope")


def test_unquoted_url_and_empty_header():
    [c] = parse_challenges("Bearer realm=https://h:5001/auth,service=reg")
    assert c.params == {"realm": "https://h:5001/auth", "service": "reg"}
    assert parse_challenges("") == []


def test_malformed_challenge_is_rejected():
    with pytest.raises(InvalidResponse):
        parse_challenges('Bearer realm="never closed')
    with pytest.raises(InvalidResponse):
        parse_challenges('Bearer realm="x", @@@')


def test_token_reply_forms():
    now = 1_000_000.0
    token, expiry = parse_token_reply(b'{"token": "abc", "expires_in": 300}', now)
    assert token == "abc" and expiry == pytest.approx(now + 300 - 5)
    token, expiry = parse_token_reply(b'{"access_token": "xyz"}', now)
    assert token == "xyz" and expiry == pytest.approx(now + 60 - 5)
    # issued two minutes ago with a 3 minute life: one minute left.
    issued = time.strftime("%Y-%m-%dT%H:%M:%S.123456789Z", time.gmtime(now - 120))
    _token, expiry = parse_token_reply(f'{{"token": "t", "expires_in": 180, "issued_at": "{issued}"}}'.encode(), now)
    assert expiry == pytest.approx(now + 60 - 5, abs=1)
    for bad in (b"[]", b"not json", b'{"token": ""}', b'{"token": 5}', b'{"token": "a\\nb"}'):
        with pytest.raises(InvalidResponse):
            parse_token_reply(bad, now)


def test_authenticator_prefers_bearer_caches_and_never_shows_secrets():
    calls = []

    def fetch(url, params, headers):
        calls.append((url, params, headers))
        return 200, b'{"token": "tok-%d", "expires_in": 600}' % len(calls)

    auth = Authenticator("reg:5000", ("user", "pa:ss"), fetch)
    assert auth.authorization(["repository:a:pull"]) is None  # nothing known before a challenge
    assert auth.learn('Basic realm="r", Bearer realm="https://auth/token",service="svc"')
    assert auth.authorization(["repository:a:pull"]) == "Bearer tok-1"
    assert auth.authorization(["repository:a:pull"]) == "Bearer tok-1"
    assert auth.authorization(["repository:a:pull,push"]) == "Bearer tok-2"
    assert auth.authorization(["repository:a:pull"]) in ("Bearer tok-1", "Bearer tok-2")
    assert auth.authorization(["repository:b:pull"]) == "Bearer tok-3"
    assert len(calls) == 3
    url, params, headers = calls[0]
    assert url == "https://auth/token"
    assert params == [("service", "svc"), ("scope", "repository:a:pull"), ("account", "user")]
    assert headers["Authorization"] == basic_authorization("user", "pa:ss")
    assert "pa:ss" not in repr(auth)


def test_basic_challenge_without_credentials_cannot_be_answered():
    auth = Authenticator("reg", None, lambda *a: (500, b""))
    assert auth.learn('Basic realm="x"') is False
    assert auth.authorization([]) is None


def test_credentials_are_not_sent_to_a_plain_http_realm_of_a_secure_registry():
    auth = Authenticator("reg", ("u", "p"), lambda *a: (200, b'{"token": "t"}'))
    auth.learn('Bearer realm="http://evil/token"')
    with pytest.raises(AuthenticationRequired, match="plain http"):
        auth.authorization(["repository:a:pull"])


def test_rejected_credentials():
    auth = Authenticator("reg", ("u", "bad"), lambda *a: (401, b""))
    auth.learn('Bearer realm="https://auth/token"')
    with pytest.raises(AuthenticationRequired, match="credentials were rejected"):
        auth.authorization([])
