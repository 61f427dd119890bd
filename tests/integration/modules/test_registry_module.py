"""berth.engine.registry through ansible-playbook against a real htpasswd registry."""
from __future__ import annotations

import json
from typing import Any


def login(task: str, **params: Any) -> dict[str, Any]:
    return {"name": task, "berth.engine.registry": params}


def test_login_logout_idempotent_and_password_never_shown(play, registry, berth_env) -> None:
    task = [login("in", registry_url=registry.host, username=registry.user,
                  password=registry.password)]
    predicted = play(task, check=True, diff=True)
    assert predicted["in"]["changed"] is True
    assert not (berth_env.config / "config.json").exists(), "check mode stores nothing"

    first = play(task, diff=True)
    assert first["in"]["changed"] is True
    assert first["in"]["login_result"] == {"registry": registry.host, "logged_in": True,
                                           "username": registry.user}
    assert first["in"]["diff"]["before"]["logged_in"] is False
    assert registry.password not in first.output
    assert registry.password not in json.dumps(first.results)
    auths = json.loads((berth_env.config / "config.json").read_text())["auths"]
    assert list(auths) == [registry.host]

    assert play(task, check=True)["in"]["changed"] is False
    assert play(task)["in"]["changed"] is False
    reauth = [login("in", registry_url=registry.host, username=registry.user,
                    password=registry.password, reauthorize=True)]
    assert play(reauth)["in"]["changed"] is False, "verified again, nothing changed"

    out = [login("out", registry_url=registry.host, state="absent")]
    assert play(out, check=True)["out"]["changed"] is True
    assert play(out)["out"]["changed"] is True
    assert play(out)["out"]["changed"] is False
    auths = json.loads((berth_env.config / "config.json").read_text())["auths"]
    assert auths == {}


def test_wrong_password_fails_cleanly_and_stores_nothing(play, registry, berth_env) -> None:
    run = play([login("in", registry_url=registry.host, username=registry.user,
                      password="wrong password")], expect_failure=True)
    msg = run["in"]["msg"]
    assert "\n" not in msg and msg
    assert "wrong password" not in run.output
    assert not (berth_env.config / "config.json").exists()
    run = play([login("in", registry_url=registry.host, username=registry.user)],
               expect_failure=True)
    assert "password" in run["in"]["msg"]
