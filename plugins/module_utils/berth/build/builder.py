"""``berth build``: runs a parsed Dockerfile stage by stage, like Docker's classic builder.

    builder = Builder(ImageStore(), BuildOptions(tags=["web:1"]), out=sys.stdout)
    result = builder.build(BuildContext.from_directory("."))

Only the stages the target needs are built (the target's FROM chain and its ``COPY --from``
sources). Each step prints ``Step N/M : INSTRUCTION`` and ``---> <id>`` (``---> Using cache`` on a
hit). A failed build removes what it created: its containers and mounts as each step unwinds,
then every image it registered (the cache rows go with them).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
from typing import Any, Dict, List, Optional, Set, TextIO

from ..errors import BerthError, InvalidArgument, NotFound
from ..image import Image, ImageStore, parse_reference
from ..values import Value, field
from . import instructions as ins
from .cache import BuildCache
from .context import BuildContext
from .parser import parse, parse_trigger
from .scope import GlobalScope, platform_args
from .state import ImageState
from .steps import StageRun, StepRunner


#: Docker's builder gives every stage this PATH when its image sets none. The same value as the
#: runtime's default (``runtime.spec.DEFAULT_PATH``, a test keeps them equal); spelled out here
#: because importing the runtime package costs a cached build ~8 ms.
DEFAULT_PATH = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


class BuildError(BerthError):
    """A build failed; the message names the Dockerfile line. ``docker build`` exits 1."""

    exit_code = 1


class BuildOptions(Value):
    tags: List[str] = field(default_factory=list)
    build_args: Dict[str, str] = field(default_factory=dict)
    labels: Dict[str, str] = field(default_factory=dict)
    no_cache: bool = False
    pull: bool = False
    target: Optional[str] = None
    quiet: bool = False
    network: str = "default"
    platform: Optional[str] = None


class BuildResult(Value):
    image_id: str
    tags: List[str]
    warnings: List[str]
    steps: int
    cached: int


class Builder:
    def __init__(self, images: ImageStore, options: Optional[BuildOptions] = None,
                 out: Optional[TextIO] = None) -> None:
        self.images = images
        self.options = options or BuildOptions()
        self.out = out if out is not None else sys.stdout
        self.cache = BuildCache(images)
        self.created: List[str] = []
        self.stage_results: Dict[int, ImageState] = {}
        self.stage_names: Dict[str, int] = {}
        self.context: Optional[BuildContext] = None
        self.filename = "Dockerfile"
        self.escape = "\\"
        self._workdir: Optional[str] = None
        self.cached_steps = 0

    @property
    def workdir(self) -> str:
        """This build's scratch dir under <root>/builds, made on first use: a build whose
        every step hits the cache needs none."""
        if self._workdir is None:
            import tempfile

            base = os.path.join(self.images.store.root, "builds")
            os.makedirs(base, 0o700, exist_ok=True)
            self._workdir = tempfile.mkdtemp(prefix="build-", dir=base)
        return self._workdir

    # -- output -------------------------------------------------------------------------------

    def say(self, line: str) -> None:
        if line == " ---> Using cache":
            self.cached_steps += 1
        if not self.options.quiet:
            self.out.write(line + "\n")
            self.out.flush()

    def output(self, stream: str, data: bytes) -> None:
        if not self.options.quiet:
            self.out.write(data.decode("utf-8", "replace"))
            self.out.flush()

    # -- the build ------------------------------------------------------------------------------

    def build(self, context: BuildContext) -> BuildResult:
        self.context = context
        self.filename = context.dockerfile_name
        for tag in self.options.tags:
            parse_reference(tag)  # a bad tag fails before any work
        try:
            dockerfile = parse(context.dockerfile_text, self.filename)
            self.escape = dockerfile.escape
            return self._build(dockerfile)
        except BaseException as exc:
            self._undo()
            if isinstance(exc, BerthError) and not isinstance(exc, BuildError):
                raise BuildError(str(exc)) from None
            raise
        finally:
            if self._workdir is not None:
                import shutil

                shutil.rmtree(self._workdir, ignore_errors=True)
                self._workdir = None

    def _build(self, dockerfile: ins.Dockerfile) -> BuildResult:
        global_scope = GlobalScope(self.options.build_args, list(dockerfile.global_args),
                                   platform_args(), self.escape)
        stages = dockerfile.stages
        target = dockerfile.stage(self.options.target) if self.options.target else stages[-1]
        needed = self._needed(stages, target.index)
        labels = self._label_step() if self.options.labels else None
        total = sum(1 + len(s.instructions) for s in stages if s.index in needed)
        total += 1 if labels is not None else 0
        number = 0
        runner = StepRunner(self)
        final: Optional[StageRun] = None
        for stage in stages:
            if stage.index not in needed:
                continue
            number += 1
            self.say("Step %d/%d : %s" % (number, total, stage.from_.original))
            run = self._step(stage.from_, lambda: self._from(stage, global_scope))
            self._triggers(run, runner)
            body = list(stage.instructions)
            if labels is not None and stage.index == target.index:
                body.append(labels)
            for instr in body:
                number += 1
                self.say("Step %d/%d : %s" % (number, total, instr.original))
                self._step(instr, lambda: runner.execute(run, instr))
            self.stage_results[stage.index] = run.state
            if stage.name:
                self.stage_names[stage.name] = stage.index
            final = run
            if stage.index == target.index:
                break
        if final is None or final.state.image is None:
            raise InvalidArgument("No image was generated. Is your Dockerfile empty?")
        image = final.state.image
        for tag in self.options.tags:
            self.images.tag(image.id, tag)
        warnings = []
        unused = sorted(k for k in self.options.build_args if k not in global_scope.used
                        and k not in ins.PROXY_ARGS)
        if unused:
            warnings.append("[Warning] One or more build-args [%s] were not consumed"
                            % " ".join(unused))
        for warning in list(dockerfile.warnings) + warnings:
            self.say(warning)
        self.say("Successfully built %s" % image.short_id)
        for tag in self.options.tags:
            self.say("Successfully tagged %s" % parse_reference(tag).familiar)
        return BuildResult(image.id, list(self.options.tags), warnings, number,
                           self.cached_steps)

    def _step(self, instr: ins.Instruction, action: Any) -> Any:
        """Run one step; any failure becomes one line naming the Dockerfile line."""
        prefix = "%s:%d: " % (self.filename, instr.line)
        try:
            return action()
        except BerthError as exc:
            message = str(exc)
            if re.match(r"%s:\d+: " % re.escape(self.filename), message):
                raise BuildError(message) from None
            raise BuildError("%s%s: %s" % (prefix, instr.keyword, message)) from None
        except OSError as exc:
            raise BuildError("%s%s: %s: %s" % (prefix, instr.keyword,
                                               exc.strerror or exc, exc.filename or "")) from None

    # -- FROM, stages, triggers -----------------------------------------------------------------

    @staticmethod
    def _needed(stages: Any, target: int) -> Set[int]:
        names = {s.name: s.index for s in stages if s.name}
        needed: Set[int] = set()
        pending = [target]
        while pending:
            index = pending.pop()
            if index in needed:
                continue
            needed.add(index)
            stage = stages[index]
            refs = [stage.from_.image] + [i.from_ for i in stage.instructions
                                          if isinstance(i, ins.Copy) and i.from_]
            for ref in refs:
                if "$" in ref:  # decided by an ARG: keep every earlier stage
                    pending.extend(range(index))
                elif ref.lower() in names and names[ref.lower()] < index:
                    pending.append(names[ref.lower()])
                elif ref.isdigit() and int(ref) < index:
                    pending.append(int(ref))
        return needed

    def _label_step(self) -> ins.Label:
        pairs = tuple(sorted(self.options.labels.items()))
        text = "LABEL " + " ".join('%s="%s"' % (k, v.replace('"', '\\"')) for k, v in pairs)
        return ins.Label(line=0, end_line=0, original=text, pairs=pairs)

    def _from(self, stage: ins.Stage, global_scope: GlobalScope) -> StageRun:
        instr = global_scope.expand_from(stage.from_)
        name = instr.image
        if not name:
            raise InvalidArgument("base name (%s) should not be blank" % stage.from_.image)
        if name.lower() in self.stage_names:
            state = self.stage_results[self.stage_names[name.lower()]]
            image = state.image
        elif instr.is_scratch:
            image = None
        else:
            image = self.base_image(name)
        state = ImageState(image)
        config = state.config
        env = list(config.get("Env") or [])
        if not any(e.startswith("PATH=") for e in env):
            env.insert(0, DEFAULT_PATH)  # Docker gives every stage a PATH
        config["Env"] = env
        triggers = list(config.get("OnBuild") or [])
        config["OnBuild"] = None  # triggers run once, in the direct child only
        state.doc["config"] = config
        scope = global_scope.stage(dict(e.partition("=")[::2] for e in env))
        run = StageRun(stage.index, stage.name, state, scope, triggers=triggers)
        self.say(" ---> %s" % (image.short_id if image is not None else "scratch"))
        return run

    def _triggers(self, run: StageRun, runner: StepRunner) -> None:
        triggers = run.triggers
        if not triggers:
            return
        self.say("# Executing %d build trigger%s" % (len(triggers), "" if len(triggers) == 1 else "s"))
        for expression in triggers:
            instr = parse_trigger(expression, self.escape)
            self._step(instr, lambda: runner.execute(run, instr))

    def base_image(self, name: str) -> Image:
        """A FROM image: local unless ``--pull``; pulled when missing."""
        if not self.options.pull:
            try:
                return self.images.resolve(name)
            except NotFound:
                pass
        from ..registry import pull

        progress = None
        if not self.options.quiet:
            from ..registry.progress import TextProgress
            progress = TextProgress(self.out)  # type: ignore[call-arg]
        try:
            return pull(self.images, name, progress=progress)
        except BerthError as exc:
            raise NotFound("pull access denied for %s or it does not exist: %s"
                           % (name, exc)) from None

    def source_image(self, ref: str) -> Optional[Image]:
        """What ``COPY --from=ref`` reads: an earlier stage (name or index) or an image."""
        if ref.lower() in self.stage_names:
            return self.stage_results[self.stage_names[ref.lower()]].image
        if ref.isdigit():
            if int(ref) not in self.stage_results:
                raise InvalidArgument("invalid from flag value %s: refers to a stage that is "
                                      "not built before this one" % ref)
            return self.stage_results[int(ref)].image
        return self.base_image(ref)

    # -- undo ---------------------------------------------------------------------------------

    def _undo(self) -> None:
        """Remove every image this build registered (children first) and their cache rows."""
        if not self.created:
            return
        from ..image.removal import collect_garbage, remove

        with contextlib.suppress(BerthError, OSError):
            for image_id in reversed(self.created):
                self.cache.forget_image(image_id)
                with contextlib.suppress(BerthError):
                    remove(self.images, image_id, force=True, prune=False)
            collect_garbage(self.images)
        self.created = []
