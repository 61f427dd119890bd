"""One Dockerfile step on a stage: expand it, look it up in the cache, or execute and commit it.

``StepRunner.execute`` dispatches on the instruction type. Metadata steps change the config and
commit an ``empty_layer`` history entry; RUN, COPY, ADD (and a WORKDIR that must create its
directory) commit a layer. Every step's cache key is built from what determines its result.
"""
from __future__ import annotations

import contextlib
import os
import posixpath
from typing import TYPE_CHECKING, Any, Dict, List, Optional, Tuple, Union

from ..errors import InvalidArgument
from ..values import Value, field
from . import config_update
from . import instructions as ins
from .cache import step_key
from .context import clean_source, has_wildcards
from .scope import StageScope
from .sources import Source, checksum, parse_chmod
from .state import ImageState
from .substitution import InstructionT, expand_instruction

if TYPE_CHECKING:
    from ..image import Image

# What only a step that misses the cache needs (overlay mounts, layer blobs, the container
# service for RUN, tar, gzip, downloads) is imported where the step executes: a fully cached
# build imports none of it.


class StageRun(Value):
    """A stage being built: where it is (``state``), its ARG/ENV scope and Docker's cmdSet."""

    index: int
    name: Optional[str]
    state: ImageState
    scope: StageScope
    cmd_set: bool = False
    triggers: List[str] = field(default_factory=list)  # the base image's ONBUILD expressions

    @property
    def shell(self) -> Tuple[str, ...]:
        return tuple(self.state.config.get("Shell") or ins.DEFAULT_SHELL)


class StepRunner:
    def __init__(self, session: Any) -> None:
        self.s = session
        self.images = session.images

    # -- helpers ------------------------------------------------------------------------------

    def _expand(self, stage: StageRun, instr: InstructionT) -> InstructionT:
        return expand_instruction(instr, stage.scope.expansion_env(), self.s.escape,
                                  self.s.filename)

    def _cached(self, stage: StageRun, key: str) -> bool:
        """Move ``stage`` to the cached image of this step, if there is one."""
        if self.s.options.no_cache:
            return False
        image = self.s.cache.lookup_image(stage.state.id, key)
        if image is None:
            return False
        self.s.say(" ---> Using cache")
        self._advance(stage, image)
        return True

    def _advance(self, stage: StageRun, image: Image) -> None:
        stage.state = ImageState(image)
        self.s.say(" ---> %s" % image.short_id)

    def _commit(self, stage: StageRun, key: str, config: Dict[str, Any], created_by: str,
                layer: Any = None, author: Optional[str] = None) -> None:
        from .commit import register_step

        parent = stage.state.id
        image = register_step(self.images, stage.state, config, created_by, layer, author)
        self.s.created.append(image.id)
        self.s.cache.store(parent, key, image.id, image.created)
        self._advance(stage, image)

    def _meta(self, stage: StageRun, instr: ins.Instruction, config: Dict[str, Any],
              author: Optional[str] = None) -> None:
        created_by = ins.created_by(instr, stage.shell)
        key = step_key("meta", stage.state.id, created_by, config, author)
        if not self._cached(stage, key):
            self._commit(stage, key, config, created_by, None, author)

    # -- dispatch -----------------------------------------------------------------------------

    def execute(self, stage: StageRun, instr: ins.Instruction) -> None:
        handler = getattr(self, "_" + type(instr).__name__.lower(), None)
        if handler is None:
            raise InvalidArgument("%s is not supported" % instr.keyword)
        handler(stage, instr)

    def _env(self, stage: StageRun, instr: ins.Env) -> None:
        expanded = stage.scope.set_env(instr)
        self._meta(stage, expanded, config_update.apply(stage.state.config, expanded))

    def _arg(self, stage: StageRun, instr: ins.Arg) -> None:
        expanded = stage.scope.declare(instr)
        self._meta(stage, expanded, stage.state.config)

    def _simple(self, stage: StageRun, instr: ins.Instruction) -> None:
        expanded = self._expand(stage, instr)
        self._meta(stage, expanded, config_update.apply(stage.state.config, expanded))

    _label = _expose = _user = _volume = _shell = _healthcheck = _onbuild = _simple

    def _stopsignal(self, stage: StageRun, instr: ins.StopSignal) -> None:
        from ..container import signal_number

        expanded = self._expand(stage, instr)
        try:
            signal_number(expanded.signal)
        except InvalidArgument:
            raise InvalidArgument("Invalid signal: %s" % expanded.signal) from None
        self._meta(stage, expanded, config_update.apply(stage.state.config, expanded))

    def _cmd(self, stage: StageRun, instr: ins.Cmd) -> None:
        self._simple(stage, instr)
        stage.cmd_set = True

    def _entrypoint(self, stage: StageRun, instr: ins.Entrypoint) -> None:
        config = config_update.apply(stage.state.config, instr)
        if not stage.cmd_set:  # Docker: an ENTRYPOINT drops a Cmd this stage did not set
            config["Cmd"] = None
        self._meta(stage, instr, config)

    def _maintainer(self, stage: StageRun, instr: ins.Maintainer) -> None:
        self._meta(stage, instr, stage.state.config, author=instr.maintainer)

    def _workdir(self, stage: StageRun, instr: ins.Workdir) -> None:
        expanded = self._expand(stage, instr)
        config = config_update.apply(stage.state.config, expanded)
        created_by = ins.created_by(expanded, stage.shell)
        key = step_key("workdir", stage.state.id, created_by, config)
        if self._cached(stage, key):
            return
        from .commit import ingest_upper, step_rootfs
        from .copy import Writer, set_tree_mtime

        with self.images.store.writing(), \
                step_rootfs(self.images, stage.state, self.s.workdir) as paths:
            Writer(paths["merged"], None, None, self.s.workdir).makedirs(config["WorkingDir"])
            layer = None
            if os.listdir(paths["upper"]):
                set_tree_mtime(paths["upper"])
                layer = ingest_upper(self.images, stage.state, paths["upper"], self.s.workdir)
            self._commit(stage, key, config, created_by, layer)

    # -- RUN ----------------------------------------------------------------------------------

    def _run(self, stage: StageRun, instr: ins.Run) -> None:
        expanded = self._expand(stage, instr)
        if expanded.mounts:
            raise InvalidArgument("RUN --mount is not supported by this builder")
        if stage.state.image is None or not stage.state.image.layers:
            raise InvalidArgument("cannot RUN in a stage with no filesystem (FROM scratch): "
                                  "there is no shell to run %r" % " ".join(expanded.argv(stage.shell)))
        shell = stage.shell
        created_by = ins.created_by(expanded, shell, stage.scope.history_args())
        key = step_key("run", stage.state.id, created_by)
        if self._cached(stage, key):
            return
        from .run import RunRequest, run_step

        argv = expanded.argv(shell)
        script = expanded.script
        request = RunRequest(argv=argv, env=["%s=%s" % kv for kv in
                                             sorted(stage.scope.run_env().items())],
                             workdir=stage.state.config.get("WorkingDir") or "",
                             user=stage.state.config.get("User") or "",
                             network=self._network(expanded), output=self.s.output)
        ran: List[str] = []

        def announce(cid: str) -> None:
            ran.append(cid)
            self.s.say(" ---> Running in %s" % cid[:12])

        request.announce = announce
        if script is not None and script.data.startswith("#!"):
            request.script = script.data.encode("utf-8", "surrogateescape")
            request.script_name = script.name
        with self.images.store.writing():
            layer = run_step(self.images, stage.state, request, self.s.workdir)
            self.s.say("Removing intermediate container %s" % ran[0][:12])
            self._commit(stage, key, stage.state.config, created_by, layer)

    def _network(self, instr: ins.Run) -> str:
        mode = instr.network or "default"
        return self.s.options.network if mode == "default" else mode

    # -- COPY / ADD ---------------------------------------------------------------------------

    def _copy(self, stage: StageRun, instr: ins.Copy) -> None:
        self._transfer(stage, instr)

    def _add(self, stage: StageRun, instr: ins.Add) -> None:
        self._transfer(stage, instr)

    def _transfer(self, stage: StageRun, instr: Union[ins.Copy, ins.Add]) -> None:
        expanded = self._expand(stage, instr)
        if isinstance(expanded, ins.Copy) and expanded.parents:
            raise InvalidArgument("--parents is not supported by this builder")
        if expanded.exclude:
            raise InvalidArgument("--exclude is not supported by this builder")
        chmod = parse_chmod(expanded.chmod) if expanded.chmod else None
        from_ = expanded.from_ if isinstance(expanded, ins.Copy) else None
        workdir = stage.state.config.get("WorkingDir") or "/"
        dest = expanded.dest if expanded.dest.startswith("/") else \
            posixpath.join(workdir, expanded.dest)
        dest_is_dir = expanded.dest.endswith("/") or expanded.dest in (".", "./") or \
            expanded.dest.endswith("/.")
        dest_path = posixpath.normpath(dest) if dest not in ("", "/") else "/"
        with contextlib.ExitStack() as stack:
            staging = _Staging(self.s)
            stack.callback(staging.remove)
            sources = self._sources(stage, expanded, from_, staging, stack)
            if len(sources) > 1 and not dest_is_dir:
                raise InvalidArgument("When using %s with more than one source file, the "
                                      "destination must be a directory and end with a /"
                                      % expanded.keyword)
            digest = checksum(sources)
            kind = "multi" if len(sources) > 1 else ("dir" if sources[0].is_dir else "file")
            created_by = ins.created_by(expanded, stage.shell,
                                        source="%s:%s in %s " % (kind, digest, expanded.dest))
            key = step_key(expanded.keyword, stage.state.id, created_by, expanded.chown,
                           expanded.chmod, from_, dest_path, dest_is_dir)
            if self._cached(stage, key):
                return
            from .commit import ingest_upper, step_rootfs
            from .copy import Writer, resolve_chown, set_tree_mtime

            with self.images.store.writing(), \
                    step_rootfs(self.images, stage.state, self.s.workdir) as paths:
                owner = resolve_chown(paths["merged"], expanded.chown) if expanded.chown else None
                writer = Writer(paths["merged"], owner, chmod, staging.path)
                writer.copy(sources, dest_path, dest_is_dir)
                set_tree_mtime(paths["upper"])
                layer = ingest_upper(self.images, stage.state, paths["upper"], self.s.workdir)
                self._commit(stage, key, stage.state.config, created_by, layer)

    def _sources(self, stage: StageRun, instr: Any, from_: Optional[str], staging: "_Staging",
                 stack: contextlib.ExitStack) -> List[Source]:
        sources: List[Source] = []
        is_add = isinstance(instr, ins.Add)
        if from_:
            from .commit import readonly_rootfs
            from .copy import glob_rootfs

            image = self.s.source_image(from_)
            root = stack.enter_context(readonly_rootfs(self.images, image, self.s.workdir))
            for src in instr.sources:
                rel = clean_source(src)
                matches = glob_rootfs(root, rel) if has_wildcards(rel) else [rel]
                for match in matches:
                    host = _secure(root, match)
                    if not os.path.lexists(host):
                        raise InvalidArgument("%s: no such file or directory in %s" % (src, from_))
                    sources.append(Source(host, os.path.relpath(host, root), preserve_owner=True))
                if not matches:
                    raise InvalidArgument("no source files were specified: %s matches nothing "
                                          "in %s" % (src, from_))
        else:
            ctx = self.s.context
            included = ctx.is_included if ctx.ignore.patterns else None
            for src in instr.sources:
                if is_add and src.startswith(("http://", "https://")):
                    from .download import download

                    path, name = download(src, staging.path, getattr(instr, "checksum", None))
                    sources.append(Source(path, name, mode=0o600))
                    continue
                for rel in ctx.resolve(src):
                    host = ctx.host_path(rel)
                    archive = is_add and os.path.isfile(host) and not os.path.islink(host) \
                        and _is_archive(host)
                    sources.append(Source(host, rel, included, archive=archive))
        for n, inline in enumerate(instr.inline):
            folder = os.path.join(staging.path, "inline-%d" % n)
            os.mkdir(folder, 0o755)
            name = posixpath.basename(inline.path) or "EOF"
            host = os.path.join(folder, name)
            with open(host, "wb") as f:
                f.write(inline.data.encode("utf-8", "surrogateescape"))
            sources.append(Source(host, name, mode=0o644))
        if not sources:
            raise InvalidArgument("no source files were specified")
        return sources


class _Staging:
    """A step's scratch dir for heredoc files, downloads and unpacked archives, made on first
    use: a COPY of context files that hits the cache needs none."""

    def __init__(self, session: Any) -> None:
        self.session = session
        self._path: Optional[str] = None

    @property
    def path(self) -> str:
        if self._path is None:
            import tempfile

            self._path = tempfile.mkdtemp(prefix="sources-", dir=self.session.workdir)
        return self._path

    def remove(self) -> None:
        if self._path is not None:
            _rmtree(self._path)
            self._path = None


def _is_archive(path: str) -> bool:
    from .copy import is_archive

    return is_archive(path)


def _secure(root: str, rel: str) -> str:
    from ..runtime.mounts import secure_join

    return secure_join(root, rel)


def _rmtree(path: str) -> None:
    import shutil

    shutil.rmtree(path, ignore_errors=True)
