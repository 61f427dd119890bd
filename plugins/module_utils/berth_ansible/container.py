"""berth.engine.container: make a named container match the task, option by option.

The desired spec is built from the options that set a ``ContainerSpec`` field (container_options)
and compared with the spec the engine STORED for the container, with the image's defaults merged
into both sides; options absent from the task are not compared. A difference, a new image ID for
the reference or ``recreate`` replaces the container: the new one is created under a temporary name
first (so a spec the engine rejects leaves the old one untouched), then the old one is removed and
the new one takes its name.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from . import engine
from .container_options import OPTIONS
from .image import registry_serves
from .options import BadOption, Option, comparable, comparison_modes, values_match

FIELD_OPTIONS = tuple(o for o in OPTIONS if o.field)


class ContainerManager:
    def __init__(self, module: Any) -> None:
        self.module = module
        self.p = primary_network_options(module.params)
        self.check = module.check_mode
        self.ctr = engine.load("container")
        self.svc = self.ctr.ContainerService()
        self.images = self.svc.images
        self.modes = comparison_modes(OPTIONS, self.p["comparisons"])
        self.changed = False
        self.actions: List[str] = []
        self.diffs: Dict[str, Tuple[Any, Any]] = {}
        self.output: Optional[str] = None

    # -- lookups ----------------------------------------------------------------------------------

    def find(self) -> Optional[Any]:
        """The container named exactly ``name`` (never an ID prefix that happens to match)."""
        for c in self.svc.records.all():
            if c.name == self.p["name"]:
                return self.svc.refresh(c)
        return None

    def describe(self, c: Optional[Any]) -> Dict[str, Any]:
        if c is None:
            return {}
        lower = self.images.lowerdirs(self.images.get(c.image_id))
        return self.ctr.inspect(c, self.svc.paths(c.id), lower)

    def _change(self, action: str) -> None:
        self.changed = True
        self.actions.append(action)

    # -- desired state ------------------------------------------------------------------------------

    def desired_values(self) -> Dict[str, Any]:
        """Engine field -> value for every option given in the task (env_file + env concatenate)."""
        values: Dict[str, Any] = {}
        for opt in FIELD_OPTIONS:
            if self.p[opt.name] is None:
                continue
            value = opt.engine_value(self.p[opt.name])
            if isinstance(values.get(opt.field), list):
                values[opt.field] = values[opt.field] + value
            else:
                values[opt.field] = value
        return values

    def image(self) -> Optional[Any]:
        """The image to run, pulled by the pull policy; None in check mode when not pulled yet."""
        name = self.p["image"]
        try:
            local = self.images.resolve(name)
        except engine.errors().NotFound:
            local = None
        policy = self.p["pull"]
        if policy == "never" or (policy == "missing" and local is not None):
            if local is None:
                raise BadOption(f"image {name} is not in the image store (pull=never)")
            return local
        if self.check:
            if local is None or not registry_serves(local, name):
                self._change(f"pull {name}")
            return local
        pulled = engine.load("registry").pull(self.images, name)
        if local is None or pulled.id != local.id:
            self._change(f"pull {name}")
        return pulled

    def differences(self, c: Any, image: Optional[Any], values: Dict[str, Any]) -> None:
        source = image or self.images.get(c.image_id)
        defaults = (source.config or {}).get("config") or {}
        for name, opt in comparable(OPTIONS).items():
            mode = self.modes[name]
            group = [o for o in OPTIONS if o.group == name]
            if mode == "ignore" or all(self.p[o.name] is None for o in group):
                continue
            if name == "image":
                if image is None or image.id != c.image_id:
                    self.diffs[name] = (c.image_id, image.id if image else f"pull {self.p['image']}")
                continue
            want = opt.effective_value(values.get(opt.field), defaults)
            have = opt.effective_value(getattr(c.spec, opt.field), defaults)
            if not values_match(mode, want, have, opt.unordered):
                self.diffs[name] = (have, want)

    def network_changes(self, c: Optional[Any]) -> Tuple[List[Any], List[str]]:
        """The networks after the first to connect ``(name, aliases, ip)`` and to disconnect
        (changed ones are both) so that ``c`` (None: a container being created) has exactly
        the listed ones."""
        wanted = {n["name"]: (sorted(n["aliases"] or []), n["ipv4_address"] or "")
                  for n in self.p["networks"][1:]}
        have: Dict[str, Tuple[List[str], str]] = {}
        if c is not None:
            networking = engine.submodule("container", "networking")
            primary = networking.effective_mode(c.spec.network)
            for name, endpoint in networking.endpoints_of(c).items():
                if name != primary:
                    have[name] = (sorted(endpoint.get("aliases") or []), endpoint.get("ip") or "")
        connect = [(name, *wanted[name]) for name in wanted if have.get(name) != wanted[name]]
        disconnect = [name for name in have if have[name] != wanted.get(name)]
        if connect or disconnect:
            self.diffs["networks"] = (sorted(have), sorted(wanted))
        return connect, disconnect

    def apply_networks(self, c: Any, connect: List[Any], disconnect: List[str]) -> Any:
        networking = engine.submodule("container", "networking")
        for name in disconnect:
            networking.disconnect_container(self.svc, c.id, name)
        for name, aliases, ip in connect:
            networking.connect_container(self.svc, c.id, name, aliases, ip)
        return self.svc.resolve(c.id)

    # -- actions ----------------------------------------------------------------------------------

    def stop(self, c: Any) -> Any:
        if self.p["force_kill"]:
            return self.svc.stop(c.id, timeout=0, sig="SIGKILL")
        return self.svc.stop(c.id, timeout=self.p["stop_timeout"])

    def remove(self, c: Any) -> None:
        if c.running:
            self.stop(c)
        self.svc.remove(c.id, force=True, volumes=not self.p["keep_volumes"])

    def create(self, spec: Any, old: Optional[Any]) -> Any:
        if old is None:
            return self.svc.create(spec, name=self.p["name"])
        new = self.svc.create(spec, name=f"{self.p['name']}-berth-replacing-{old.id[:12]}")
        try:
            self.remove(old)
            self.svc.rename(new.id, self.p["name"])
        except BaseException:
            self.svc.remove(new.id, force=True)
            raise
        return self.svc.resolve(new.id)

    def start(self, c: Any, created_now: bool) -> Any:
        try:
            return self.svc.start(c.id)
        except engine.errors().BerthError:
            if created_now:  # nothing half-made: a container this task created and cannot start
                self.svc.remove(c.id, force=True)
            raise

    def wait_for_exit(self, c: Any) -> Tuple[Any, int]:
        code = self.svc.wait(c.id)
        chunks = [entry[1] for entry in engine.load("shim").read_logs(self.svc.paths(c.id).log)]
        self.output = b"".join(chunks).decode("utf-8", "replace")
        return self.svc.resolve(c.id), code

    # -- entry point ------------------------------------------------------------------------------

    def run(self) -> Dict[str, Any]:
        state = self.p["state"]
        before = self.find()
        after = before
        was_running = bool(before and before.running)
        if state == "absent":
            if before is not None:
                self._change("remove")
                if not self.check:
                    self.remove(before)
            return self.result(before, None, None)
        if not self.p["image"]:
            raise BadOption(f"state={state} needs image")
        values = self.desired_values()
        spec = self.ctr.ContainerSpec.from_dict(dict(values, image=self.p["image"])).validate()
        image = self.image()
        if before is not None:
            self.differences(before, image, values)
        created_now = False
        if before is None or self.diffs or self.p["recreate"]:
            self._change("create" if before is None else "recreate")
            created_now = True
            if not self.check:
                after = self.create(spec, before)
        if self.p["networks"]:
            connect, disconnect = self.network_changes(None if created_now else before)
            if connect or disconnect:
                self._change("connect networks")
                if not self.check:
                    after = self.apply_networks(after, connect, disconnect)
        running = bool(after and after.running) and not created_now  # a new one is not running
        if state == "started" or (state == "present" and was_running and created_now):
            if not running:
                self._change("start")
                if not self.check:
                    after = self.start(after, created_now)
            elif self.p["restart"] and not created_now:
                self._change("restart")
                if not self.check:
                    after = self.svc.restart(after.id, timeout=self.p["stop_timeout"])
        elif state == "stopped" and running:
            self._change("stop")
            if not self.check:
                after = self.stop(after)
        code = None
        if state == "started" and not self.p["detach"] and not self.check:
            after, code = self.wait_for_exit(after)
            if self.p["cleanup"]:
                self.svc.remove(after.id, force=True)
        result = self.result(before, after, state)
        if code:
            self.module.fail_json(msg=f"container {self.p['name']} exited with code {code}",
                                  status=code, **result)
        if self.p["cleanup"] and code is not None:
            result["container"] = {}
        return result

    def result(self, before: Optional[Any], after: Optional[Any], state: Optional[str]) -> Dict[str, Any]:
        out: Dict[str, Any] = {"changed": self.changed, "actions": self.actions,
                               "container": self.describe(after if not self.check else before)}
        if self.output is not None:
            out["output"] = self.output
        if self.module._diff:  # pylint: disable=protected-access
            out["diff"] = {"before": _view(before, {k: v[0] for k, v in self.diffs.items()}),
                           "after": _expected(after if not self.check else before, state,
                                              {k: v[1] for k, v in self.diffs.items()})}
        return out


def primary_network_options(params: Dict[str, Any]) -> Dict[str, Any]:
    """``params`` with the first of ``networks`` as network_mode, network_aliases and
    ipv4_address (compared strictly, like any option given in the task)."""
    networks = params.get("networks")
    if not networks:
        return params
    clash = [k for k in ("network_mode", "network_aliases", "ipv4_address") if params.get(k)]
    if clash:
        raise BadOption(f"networks: {clash[0]} and networks are mutually exclusive; give the "
                        "first network's settings in networks")
    first = networks[0]
    return dict(params, network_mode=first["name"], network_aliases=list(first["aliases"] or []),
                ipv4_address=first["ipv4_address"] or "")


def _view(c: Optional[Any], options: Dict[str, Any]) -> Dict[str, Any]:
    if c is None:
        return {"exists": False}
    return dict({"exists": True, "status": c.status, "image": c.image_id}, **options)


def _expected(c: Optional[Any], state: Optional[str], options: Dict[str, Any]) -> Dict[str, Any]:
    if state is None:
        return {"exists": False}
    status = {"started": "running", "stopped": "exited"}.get(state, c.status if c else "created")
    out: Dict[str, Any] = {"exists": True, "status": status}
    if c is not None and not options.get("image"):
        out["image"] = c.image_id
    return dict(out, **options)


INFO_OPTIONS = (Option("name", "str", "Name or ID of the container.", required=True),)


def container_info(module: Any) -> Dict[str, Any]:
    ctr = engine.load("container")
    svc = ctr.ContainerService()
    try:
        c = svc.resolve(module.params["name"])
    except engine.errors().NotFound:
        return {"changed": False, "exists": False, "container": {}}
    lower = svc.images.lowerdirs(svc.images.get(c.image_id))
    return {"changed": False, "exists": True, "container": ctr.inspect(c, svc.paths(c.id), lower)}
