"""berth.engine.volume and volume_info: options and logic.

A volume's driver, driver options and labels are fixed at creation; when the task asks for other
values, ``recreate`` decides: V(never) keeps the volume (with a warning), V(options-changed)
replaces it, V(always) replaces it on every run. The engine refuses to remove a volume in use.
"""
from __future__ import annotations

from typing import Any, Dict

from . import engine
from .options import Option, comparison_modes, differences

OPTIONS = (
    Option("name", "str", "Name of the volume.", required=True, aliases=("volume_name",)),
    Option("state", "str", "V(present) creates the volume, V(absent) removes it (and its data).",
           choices=("present", "absent"), default="present"),
    Option("driver", "str", "Volume driver; only V(local) is available.", default="local",
           comparison="strict", read=lambda doc: doc.get("Driver")),
    Option("driver_options", "dict", ("Options of the C(local) driver: C(type), C(device), C(o), as "
                                      "for C(mount)."),
           comparison="strict", read=lambda doc: doc.get("Options") or {},
           to_engine=lambda value: {str(k): str(v) for k, v in value.items()}),
    Option("labels", "dict", "Labels of the volume.", comparison="strict",
           read=lambda doc: doc.get("Labels") or {},
           to_engine=lambda value: {str(k): str(v) for k, v in value.items()}),
    Option("recreate", "str", ("Replace an existing volume: V(never), V(options-changed) when "
                               "O(driver), O(driver_options) or O(labels) differ, V(always)."),
           choices=("never", "options-changed", "always"), default="never"),
)


def run(module: Any) -> Dict[str, Any]:
    p = module.params
    vol = engine.load("volume")
    store = vol.VolumeStore()
    existing = store.find(p["name"])
    before = existing.inspect() if existing else None
    changed, diffs = False, {}
    if p["state"] == "absent":
        changed = existing is not None
        if changed and not module.check_mode:
            store.remove(p["name"])
        after = None
    else:
        vol.check_name(p["name"])
        if existing is not None:
            diffs = differences(OPTIONS, p, before, comparison_modes(OPTIONS, None))
            if diffs and p["recreate"] == "never":
                module.warn(f"volume {p['name']} differs in {', '.join(sorted(diffs))}; it is kept "
                            "(recreate=options-changed replaces it)")
                diffs = {}
        replace = existing is not None and (bool(diffs) or p["recreate"] == "always")
        changed = existing is None or replace
        after = before
        if changed and not module.check_mode:
            if replace:
                store.remove(p["name"])
            after = store.create(p["name"], driver=p["driver"], labels=_opt("labels", p),
                                 options=_opt("driver_options", p)).inspect()
    result: Dict[str, Any] = {"changed": changed, "volume": after or {}}
    if module._diff:  # pylint: disable=protected-access
        result["diff"] = {"before": _view(before, {k: v[0] for k, v in diffs.items()}),
                          "after": {"exists": p["state"] == "present",
                                    **{k: v[1] for k, v in diffs.items()}}}
    return result


def _opt(name: str, params: Dict[str, Any]) -> Any:
    opt = next(o for o in OPTIONS if o.name == name)
    value = params[name]
    return opt.engine_value(value) if value is not None else None


def _view(doc: Any, options: Dict[str, Any]) -> Dict[str, Any]:
    return dict({"exists": True}, **options) if doc else {"exists": False}


INFO_OPTIONS = (Option("name", "str", "Name of the volume.", required=True, aliases=("volume_name",)),)


def volume_info(module: Any) -> Dict[str, Any]:
    found = engine.load("volume").VolumeStore().find(module.params["name"])
    return {"changed": False, "exists": found is not None, "volume": found.inspect() if found else {}}
