"""RUN: execute a command in a real container of the step's parent image and keep its upper dir.

The container comes from the container service like any other (same runtime, cgroups, network),
with the image's Entrypoint/Cmd replaced by the command. Its output is streamed to the build
output while it runs; whatever happens, the container is removed before this returns.
"""
from __future__ import annotations

import os
import tempfile
from typing import TYPE_CHECKING, Callable, List, Optional, Sequence

from ..errors import BerthError, InvalidArgument
from ..image import ImageStore, LayerInfo
from ..values import Value, field
from .commit import RUNTIME_FILES, ImageState, ingest_upper

if TYPE_CHECKING:  # the container service is imported by the first RUN: a cached build needs none
    from ..container import ContainerService

#: Where a ``RUN <<EOF`` script starting with ``#!`` is mounted (on the container's /dev tmpfs,
#: so it never lands in the layer).
SCRIPT_DIR = "/dev/pipes"


class RunRequest(Value):
    argv: List[str]
    env: List[str]
    workdir: str
    user: str
    network: str
    script: Optional[bytes] = None          # a ``#!`` heredoc, run as a file
    script_name: str = "EOF"
    output: Optional[Callable[[str, bytes], None]] = None
    announce: Optional[Callable[[str], None]] = field(default=None)


class RunFailed(BerthError):
    """The command exited non-zero; ``code`` is its exit code."""

    exit_code = 1

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def run_step(images: ImageStore, state: ImageState, req: RunRequest,
             workdir: str) -> LayerInfo:
    """Run ``req`` on ``state``'s image; its changes as a new layer (not yet registered).

    The caller holds ``images.store.writing()`` across this and the registration.
    """
    if state.image is None:
        raise InvalidArgument("RUN needs an image to run in (FROM scratch has none)")
    from ..container import ContainerService, ContainerSpec

    service = ContainerService(images.store)
    binds: List[str] = []
    argv = list(req.argv)
    script_file = None
    if req.script is not None:
        fd, script_file = tempfile.mkstemp(prefix="heredoc-", dir=workdir)
        with os.fdopen(fd, "wb") as f:
            f.write(req.script)
        os.chmod(script_file, 0o755)
        target = f"{SCRIPT_DIR}/{req.script_name}"
        binds.append(f"{script_file}:{target}:ro")
        argv = [target]
    spec = ContainerSpec(image=state.image.id, command=argv, entrypoint=[], env=list(req.env),
                         workdir=req.workdir, user=req.user, network=req.network, binds=binds)
    try:
        container = service.create(spec)
        try:
            if req.announce is not None:
                req.announce(container.id)
            service.start(container.id)
            _stream(service, container.id, req.output)
            code = service.wait(container.id)
            service.refresh(service.records.resolve(container.id))
            if code != 0:
                raise RunFailed("The command '%s' returned a non-zero code: %d"
                                % (" ".join(req.argv), code), code)
            return ingest_upper(images, state, service.paths(container.id).upper, workdir,
                                exclude=RUNTIME_FILES)
        finally:
            service.remove(container.id, force=True)
    finally:
        if script_file is not None:
            os.unlink(script_file)


def _stream(service: ContainerService, cid: str,
            output: Optional[Callable[[str, bytes], None]]) -> None:
    from ..shim import read_logs

    def stopped() -> bool:
        current = service.records.get(cid)
        return current is None or not service._reconcile(current).running  # noqa: SLF001

    if output is None:
        return
    for stream, data in read_logs(service.paths(cid).log, follow=True, stop=stopped,
                                  poll_interval=0.02):
        output(stream, data)


def env_list(values: Sequence[tuple]) -> List[str]:
    return ["%s=%s" % kv for kv in values]
