"""The container service: create, start, stop, kill, pause, remove, wait — and the reconciliation
of the database with what the shims report (a dead shim shows its container as exited).

Every step that creates something registers its undo, so a failure leaves nothing behind.
"""
from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import shutil
import signal
import time
from collections.abc import Iterator
from typing import Any, Optional

from .. import runtime
from ..errors import BerthError, Conflict, InvalidArgument, NotFound
from ..store import Store
from . import etcfiles, health, mounts, networking, shimctl
from .layout import ContainerPaths, is_mounted, write_atomic
from .names import check_name, new_id
from .ocispec import _device, docker_config, runtime_spec, stop_timeout
from .records import CREATED_STATE, Container, Records
from .spec import ContainerSpec, log_rotation, signal_name, signal_number

#: berth's own fields of a container's state (the shim's state.json does not carry them)
BERTH_STATE_KEYS = ("network", "ip", "released", "manually_stopped", "unclean", "netns",
                    "networks", "ports", "endpoints", "link_hosts")
UNCLEAN_EXIT_CODE = 255  # Docker's code for a container whose monitor vanished while it ran
WAIT_POLL = 0.02


def now_rfc3339() -> str:
    import datetime

    now = datetime.datetime.now(datetime.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond:06d}000Z"


class ContainerService:
    def __init__(self, store: Optional[Store] = None) -> None:
        self.store = store or Store()
        self.records = Records(self.store)
        self._images: Any = None
        self._volumes: Any = None

    @property
    def images(self) -> Any:
        if self._images is None:
            from ..image import ImageStore

            self._images = ImageStore(self.store)
        return self._images

    @property
    def volumes(self) -> Any:
        if self._volumes is None:
            from ..volume import VolumeStore

            self._volumes = VolumeStore(self.store)
        return self._volumes

    def volume_store(self) -> Any:
        """``volumes``, as a call: what ``mounts`` takes, so that it is made only when needed."""
        return self.volumes

    def paths(self, cid: str) -> ContainerPaths:
        return ContainerPaths(self.store, cid)

    # -- locking ------------------------------------------------------------------------------

    def _lock_path(self, cid: str) -> str:
        return os.path.join(self.store.lock_dir, f"container-{cid}.lock")

    @contextlib.contextmanager
    def _locked(self, cid: str, blocking: bool = True) -> Iterator[bool]:
        fd = os.open(self._lock_path(cid), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | (0 if blocking else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            yield True
        finally:
            os.close(fd)

    # -- lookup and reconciliation ------------------------------------------------------------

    def resolve(self, ref: str) -> Container:
        """The container named by ``ref`` with its state brought up to date."""
        return self.refresh(self.records.resolve(ref))

    def list(self) -> list[Container]:
        out = []
        for c in self.records.all():
            c = self.refresh(c)
            if c.spec.auto_remove and c.status == "exited" and c.state.get("released"):
                with contextlib.suppress(BerthError, OSError):
                    self.remove(c.id, force=True)
                    continue
            out.append(c)
        return out

    def _reconcile(self, c: Container) -> Container:
        """Fold the shim's state.json into the stored state; a dead shim means exited."""
        paths = self.paths(c.id)
        state = dict(c.state)
        reported = shimctl.read_state(paths)
        if reported:
            own = {k: state.get(k) for k in BERTH_STATE_KEYS if k in state}
            state.update(reported)
            state.update({k: v for k, v in own.items() if k not in reported})
            if reported.get("manually_stopped"):
                state["manually_stopped"] = True
        if state.get("status") in ("running", "restarting", "paused") and \
                not shimctl.shim_alive(int(state.get("shim_pid") or 0)):
            state.update(status="exited", pid=0, exit_code=UNCLEAN_EXIT_CODE,
                         finished_at=now_rfc3339(), unclean=True)
        if state != c.state:
            self.records.save_state(c.id, state)
            c.state = state
        return c

    def refresh(self, c: Container) -> Container:
        """Reconcile; release the resources of an exited container unless someone holds it."""
        c = self._reconcile(c)
        if c.status == "exited" and not c.state.get("released"):
            with self._locked(c.id, blocking=False) as got:
                if got:
                    c = self._reconcile(self.records.get(c.id) or c)
                    if c.status == "exited":
                        self._release(c)
        return c

    def release_exited(self, cid: str) -> bool:
        """Give back what the ended run of ``cid`` holds (network, volumes' host mounts, rootfs
        mount, cgroup), waiting for the container's lock; nothing if it runs, restarts or was
        released already. The shim's exit hook calls this (hooks.py). True if it released."""
        if self.records.get(cid) is None:
            return False
        with self._locked(cid):
            c = self.records.get(cid)
            if c is None:  # removed while we waited: do not leave a lock file behind
                with contextlib.suppress(OSError):
                    os.unlink(self._lock_path(cid))
                return False
            c = self._reconcile(c)
            if c.status != "exited" or c.state.get("released"):
                return False
            released = self._release(c)
        if released and c.state.get("remove_on_exit"):
            with contextlib.suppress(NotFound):
                self.remove(cid, force=True)
        return released

    def _release(self, c: Container, force: bool = False) -> bool:
        """Tear down what a run of ``c`` holds (shim, cgroup, rootfs mount, network); the caller
        holds the container's lock. Returns False when the shim will still restart it."""
        paths = self.paths(c.id)
        shim_pid = int(c.state.get("shim_pid") or 0)
        if shimctl.shim_alive(shim_pid):
            try:
                shimctl.request(paths, {"op": "shutdown"}, timeout=10)
            except shimctl.ShimError:
                # refused (it will restart the container) or already on its way out
                if not shimctl.wait_gone(shim_pid, 2.0 if force else 0.5):
                    if not force:
                        return False
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(shim_pid, signal.SIGKILL)
            shimctl.wait_gone(shim_pid)
        if os.path.exists(paths.config_json):
            try:
                runtime.runtime_for(c.spec.runtime).delete(paths.bundle, force=True)
            except (BerthError, OSError):
                if not force:
                    raise
        runtime.unmount_rootfs(paths.rootfs)
        mounts.release(self.volume_store, c)
        networking.teardown(self, c)
        shutil.rmtree(paths.run_dir, ignore_errors=True)
        c.state["released"] = True
        self.records.save_state(c.id, c.state)
        return True

    # -- create -------------------------------------------------------------------------------

    def create(self, spec: ContainerSpec, name: Optional[str] = None) -> Container:
        spec.validate()
        bare = check_name(name) if name else self.records.free_name()
        mounts.requested(spec)
        for device in spec.devices:
            _device(device)
        try:
            image = self.images.resolve(spec.image)
        except NotFound:
            raise NotFound(f"Unable to find image '{_familiar(spec.image)}' locally") from None
        cid = new_id()
        while self.store.db.query_one("SELECT 1 FROM containers WHERE substr(id, 1, 12) = ?",
                                      (cid[:12],)):
            cid = new_id()
        hostname = spec.hostname or cid[:12]
        config = docker_config(spec, image.config, hostname, spec.image)
        paths = self.paths(cid)
        state = dict(CREATED_STATE, released=True,
                     **networking.prepare_create(self, spec, config))
        container = Container(cid, bare, image.id, spec.image, now_rfc3339(), spec, config, state)
        with contextlib.ExitStack() as undo:
            os.makedirs(os.path.dirname(paths.dir), 0o711, exist_ok=True)
            os.mkdir(paths.dir, 0o710)
            undo.callback(shutil.rmtree, paths.dir, True)
            for d in (paths.upper, paths.work, paths.rootfs, paths.bundle):
                os.mkdir(d, 0o755)
            etcfiles.prepare(paths, config["Hostname"])
            holder = f"container:{cid}"
            self.images.add_user(image.id, holder)
            undo.callback(self.images.remove_user, image.id, holder)
            points = mounts.plan(self.volume_store, self.records, spec, image.config, cid, undo)
            state["mounts"] = [p.to_dict() for p in points]
            self.records.insert(container)
            undo.pop_all()
        return container

    # -- start --------------------------------------------------------------------------------

    def start(self, ref: str, remove_on_exit: bool = False,
              released_by_caller: bool = False) -> Container:
        """Start ``ref``; with ``remove_on_exit`` (a detached ``run --rm``) the shim's exit hook
        removes the container once it has exited for good. ``released_by_caller``: the calling
        process releases the run after the exit itself (a foreground ``run``); while it lives,
        the shim does not start the exit hook."""
        c = self.records.resolve(ref)
        with self._locked(c.id):
            c = self._reconcile(self.records.get(c.id) or c)
            if c.status == "paused":
                raise Conflict("cannot start a paused container, try unpause instead")
            if c.running:
                return c
            if not c.state.get("released"):
                self._release(c, force=True)
            c.state["remove_on_exit"] = remove_on_exit
            c.state["released_by_caller"] = released_by_caller
            return self._start(c)

    def _start(self, c: Container) -> Container:
        paths = self.paths(c.id)
        image = self.images.get(c.image_id)
        # recorded first: a crash (kill -9) from here on leaves a run that start, rm and
        # ``system check --repair`` give back
        self.records.save_state(c.id, dict(c.state, released=False))
        try:
            return self._start_unreleased(c, paths, image)
        except BaseException:
            c.state["released"] = True  # the undo stack gave everything back
            self.records.save_state(c.id, c.state)
            raise

    def _start_unreleased(self, c: Container, paths: ContainerPaths, image: Any) -> Container:
        with contextlib.ExitStack() as undo:
            shim = shimctl.PendingShim(paths)  # loads while the rest is prepared
            undo.callback(shim.discard)
            if not is_mounted(paths.rootfs):
                # an auto-removed container's upper dir is thrown away: no sync at unmount
                runtime.mount_rootfs(self.images.lowerdirs(image), paths.upper, paths.work,
                                     paths.rootfs, volatile=c.spec.auto_remove)
                undo.callback(runtime.unmount_rootfs, paths.rootfs)
            points = mounts.points_of(c)
            mounts.prepare(self.volume_store, points, paths.rootfs, c.id, undo)
            net = networking.setup(self, c)
            undo.callback(networking.teardown, self, c)
            try:
                spec = runtime_spec(c.id, c.spec, c.config, paths, net, self._ipc_pid(c),
                                    mount_points=points)
            except BerthError as e:
                raise shimctl.StartFailed(str(e)) from None
            if net.mode.startswith(networking.JOIN):
                etcfiles.use_files_of(spec, self.paths(net.mode[len(networking.JOIN):]))
            write_atomic(paths.config_json, json.dumps(spec, indent=1).encode(), 0o600)
            shutil.rmtree(paths.run_dir, ignore_errors=True)
            shimctl.write_shim_json(paths, self._shim_config(c, paths))
            undo.callback(self._abandon_run, c, paths)
            try:
                shim.go()
            except shimctl.StartFailed as e:
                self._record_failure(c, e)
                raise
            undo.pop_all()
        c.state = dict(c.state, released=False, manually_stopped=False, unclean=False, error="",
                       **networking.started_state(net))
        self.records.save_state(c.id, c.state)
        return self._reconcile(c)

    def _abandon_run(self, c: Container, paths: ContainerPaths) -> None:
        """Undo of a failed first start: a shim that outlived it, its cgroup, its run dir."""
        reported = shimctl.read_state(paths) or {}
        pid = int(reported.get("shim_pid") or 0)
        if shimctl.shim_alive(pid):
            with contextlib.suppress(shimctl.ShimError):
                shimctl.request(paths, {"op": "shutdown"}, timeout=10)
            if not shimctl.wait_gone(pid, 5):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        with contextlib.suppress(BerthError, OSError):
            runtime.runtime_for(c.spec.runtime).delete(paths.bundle, force=True)
        shutil.rmtree(paths.run_dir, ignore_errors=True)

    def _record_failure(self, c: Container, err: shimctl.StartFailed) -> None:
        ever_ran = c.state.get("started_at", "").startswith("0001") is False
        state = dict(c.state, status="exited" if ever_ran else "created", pid=0, shim_pid=0,
                     exit_code=err.exit_code, error=str(err), released=True)
        self.records.save_state(c.id, state)
        c.state = state

    def _shim_config(self, c: Container, paths: ContainerPaths) -> dict[str, Any]:
        log_max_size, log_max_files = log_rotation(c.spec.log_options)
        return {
            "id": c.id, "bundle": paths.bundle, "runtime": c.spec.runtime or "berth",
            "log_path": paths.log, "log_max_size": log_max_size, "log_max_files": log_max_files,
            "restart": {"name": c.spec.restart_policy, "max_retries": c.spec.restart_max_retries},
            "stop_signal": c.config.get("StopSignal") or "SIGTERM",
            "stop_timeout": stop_timeout(c.config), "tty": c.spec.tty,
            "interactive": c.spec.interactive,
            **shimctl.exit_hook(c.id, self.store.root, self.store.run,
                                bool(c.state.get("released_by_caller"))),
            **health.shim_settings(c.config.get("Healthcheck"), c.id, self.store.root,
                                   self.store.run),
        }

    def _ipc_pid(self, c: Container) -> Optional[int]:
        if not c.spec.ipc.startswith("container:"):
            return None
        other = self.resolve(c.spec.ipc.split(":", 1)[1])
        return int(other.state.get("pid") or 0) if other.status == "running" else None

    # -- stop, kill, restart, pause -----------------------------------------------------------

    def stop(self, ref: str, timeout: Optional[int] = None, sig: Optional[str] = None) -> Container:
        c = self.records.resolve(ref)
        with self._locked(c.id):
            c = self._reconcile(self.records.get(c.id) or c)
            paths = self.paths(c.id)
            if c.running:
                wait = stop_timeout(c.config) if timeout is None else int(timeout)
                name = signal_name(sig) if sig else c.config.get("StopSignal") or "SIGTERM"
                shimctl.request(paths, {"op": "stop", "timeout": wait, "signal": name},
                                timeout=max(wait, 0) + 60)
                self._wait_reported_exit(c)
            c = self._reconcile(c)
            c.state["manually_stopped"] = True
            self.records.save_state(c.id, c.state)
            if c.status == "exited" and not c.state.get("released"):
                self._release(c, force=True)
            return c

    def _wait_reported_exit(self, c: Container, limit: float = 30.0) -> None:
        deadline = time.monotonic() + limit
        while time.monotonic() < deadline:
            c = self._reconcile(c)
            if c.status not in ("running", "paused"):
                return
            time.sleep(WAIT_POLL)

    def kill(self, ref: str, sig: str = "SIGKILL") -> Container:
        name = signal_name(sig)
        c = self.resolve(ref)
        if not c.running:
            raise Conflict(f"Cannot kill container: {ref}: Container {c.id} is not running")
        shimctl.request(self.paths(c.id), {"op": "kill", "signal": name})
        if c.status == "paused" and signal_number(name) == signal.SIGKILL:
            shimctl.request(self.paths(c.id), {"op": "resume"})  # deliver it now
        return c

    def restart(self, ref: str, timeout: Optional[int] = None) -> Container:
        c = self.stop(ref, timeout)
        return self.start(c.id)

    def pause(self, ref: str) -> Container:
        """Freeze every process of the container (the shim drives the cgroup freezer)."""
        c = self.records.resolve(ref)
        with self._locked(c.id):
            c = self._reconcile(self.records.get(c.id) or c)
            if c.status == "paused":
                raise Conflict(f"Container {c.id} is already paused")
            if c.status != "running":
                raise Conflict(f"Container {c.id} is not running")
            shimctl.request(self.paths(c.id), {"op": "pause"})
            return self._reconcile(c)

    def unpause(self, ref: str) -> Container:
        c = self.records.resolve(ref)
        with self._locked(c.id):
            c = self._reconcile(self.records.get(c.id) or c)
            if c.status != "paused":
                raise Conflict(f"Container {c.id} is not paused")
            shimctl.request(self.paths(c.id), {"op": "resume"})
            return self._reconcile(c)

    # -- remove, wait, rename -----------------------------------------------------------------

    def remove(self, ref: str, force: bool = False, volumes: bool = False) -> str:
        c = self.records.resolve(ref)
        with self._locked(c.id):
            c = self._reconcile(self.records.get(c.id) or c)
            if c.running:
                if not force:
                    raise Conflict(f"You cannot remove a running container {c.id}. Stop the "
                                   "container before attempting removal or force remove")
                with contextlib.suppress(shimctl.ShimError):
                    shimctl.request(self.paths(c.id), {"op": "stop", "timeout": 0,
                                                       "signal": "SIGKILL"}, timeout=60)
                c = self._reconcile(c)
            self._release(c, force=True)
            paths = self.paths(c.id)
            _rmtree(paths.dir)
            shutil.rmtree(paths.run_dir, ignore_errors=True)
            self.images.remove_user(c.image_id, f"container:{c.id}")
            mounts.forget(self.volume_store, c, volumes or c.spec.auto_remove)
            self.records.delete(c.id)
        with contextlib.suppress(OSError):
            os.unlink(self._lock_path(c.id))
        return c.id

    def wait(self, ref: str, condition: str = "not-running") -> int:
        """Block until the container is not running; its exit code (no auto-removal here)."""
        c = self.records.resolve(ref)
        delay = WAIT_POLL
        while True:
            current = self.records.get(c.id)
            if current is None:
                raise NotFound(f"No such container: {ref}")
            current = self._reconcile(current)
            if current.status == "exited" or (condition == "not-running" and
                                              current.status == "created" and
                                              current.state.get("error")):
                return int(current.state.get("exit_code") or 0)
            time.sleep(delay)
            delay = min(delay * 1.5, 0.2)

    def rename(self, ref: str, new_name: str) -> None:
        c = self.records.resolve(ref)
        if check_name(new_name) == c.name:
            raise InvalidArgument("Renaming a container with the same name as its current name")
        self.records.rename(c.id, new_name)


def _familiar(text: str) -> str:
    try:
        from ..image import parse_reference

        return parse_reference(text).familiar
    except (BerthError, ImportError):
        return text


def _rmtree(path: str) -> None:
    def onerror(func: Any, p: str, exc: Any) -> None:
        err = exc[1] if isinstance(exc, tuple) else exc
        if isinstance(err, OSError) and err.errno == errno.ENOENT:
            return
        raise BerthError(f"cannot remove {p}: {err}")

    if os.path.exists(path):
        shutil.rmtree(path, onerror=onerror)
