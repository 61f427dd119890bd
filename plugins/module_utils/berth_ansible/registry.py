"""berth.engine.registry: log in to (or out of) a registry, credentials in the engine's store.

The password is ``no_log``; results and diffs name the user, never the password. A login is a
change only when the stored credentials change; ``reauthorize`` verifies them with the registry
again even when they are stored already.
"""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple

from . import engine
from .options import BadOption, Option

DOCKER_HUB = "https://index.docker.io/v1/"

OPTIONS = (
    Option("registry_url", "str", ("The registry: C(host[:port]), or a URL whose host is used.",
                                   "Docker Hub by default."),
           default=DOCKER_HUB, aliases=("registry", "url")),
    Option("username", "str", "The user name; required with O(state=present)."),
    Option("password", "str", "The password or token; required with O(state=present).",
           no_log=True),
    Option("reauthorize", "bool", ("Verify the credentials with the registry even when the same ones "
                                   "are stored already.",
                                   "Without it, stored credentials are trusted and not re-checked."),
           default=False, aliases=("reauth",)),
    Option("state", "str", ("V(present) logs in (verifies the credentials, then stores them); "
                            "V(absent) forgets the stored credentials."),
           choices=("present", "absent"), default="present"),
)


def _view(host: str, creds: Optional[Tuple[str, str]]) -> Dict[str, Any]:
    return {"registry": host, "logged_in": creds is not None,
            "username": creds[0] if creds else None}


def run(module: Any) -> Dict[str, Any]:
    p = module.params
    reg = engine.load("registry")
    host = reg.normalize_host(p["registry_url"])
    store = reg.CredentialStore()
    before = store.get(host)
    if p["state"] == "absent":
        changed = before is not None
        if changed and not module.check_mode:
            reg.logout(host, store)
        after = None
    else:
        if not p["username"] or p["password"] is None:
            raise BadOption("state=present needs username and password")
        after = (p["username"], p["password"])
        changed = before != after
        if (changed or p["reauthorize"]) and not module.check_mode:
            reg.login(host, p["username"], p["password"], store)
    result: Dict[str, Any] = {"changed": changed, "login_result": _view(host, after)}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": _view(host, before), "after": _view(host, after)}
        if before and after and before[0] == after[0] and before != after:
            result["diff"]["after"]["password"] = "changed"
    return result
