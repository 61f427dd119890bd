"""``/volumes/...``: thin handlers over ``berth.volume.VolumeStore``."""
from __future__ import annotations

from typing import Any

from .containers import docker_filters
from .routing import Request, Response, Router, json_response, no_content


def register(r: Router) -> None:
    r.add("GET", "/volumes", list_volumes)
    r.add("POST", "/volumes/create", create)
    r.add("POST", "/volumes/prune", prune)
    r.add("GET", "/volumes/{name}", inspect)
    r.add("DELETE", "/volumes/{name}", remove)


def _filters(req: Request, allowed: Any) -> dict[str, list[str]]:
    from ..volume import parse_filters

    wanted = docker_filters(req.json_arg("filters"))
    return parse_filters([f"{k}={v}" for k, values in wanted.items() for v in values], allowed)


def list_volumes(ctx: Any, req: Request) -> Response:
    from ..volume import LIST_FILTERS

    vols = ctx.volumes().list(_filters(req, LIST_FILTERS))
    return json_response({"Volumes": [v.inspect() for v in vols], "Warnings": []})


def create(ctx: Any, req: Request) -> Response:
    body = req.json_body()
    vol = ctx.volumes().create(body.get("Name") or None, body.get("Driver") or "local",
                               body.get("Labels") or {}, body.get("DriverOpts") or {})
    ctx.bus.publish("volume", "create", vol.name, {"driver": vol.driver})
    return json_response(vol.inspect(), 201)


def inspect(ctx: Any, req: Request, name: str) -> Response:
    return json_response(ctx.volumes().get(name).inspect())


def remove(ctx: Any, req: Request, name: str) -> Response:
    ctx.volumes().remove(name, force=req.flag("force"))
    ctx.bus.publish("volume", "destroy", name, {"driver": "local"})
    return no_content()


def prune(ctx: Any, req: Request) -> Response:
    from ..volume import PRUNE_FILTERS

    removed, reclaimed = ctx.volumes().prune(_filters(req, PRUNE_FILTERS))
    for name in removed:
        ctx.bus.publish("volume", "destroy", name, {"driver": "local"})
    return json_response({"VolumesDeleted": removed, "SpaceReclaimed": reclaimed})
