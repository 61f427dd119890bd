"""Typed Dockerfile instructions, as the parser produces them (words not yet expanded).

Every instruction is a frozen value class (``berth.values``) that keeps its first line, last line and ``original`` text
(the logical line with continuations joined, as Docker keeps it) so the builder can key its cache
on it and print it. Values are stored exactly as written: quote removal and ``$VAR`` expansion
happen in ``substitution.expand_instruction`` with the scope of the step being built.

``created_by`` renders the history string Docker's classic builder records for a step.
"""
from __future__ import annotations

import json
import re
from typing import ClassVar, Optional, Sequence, Tuple, Union

from ..errors import InvalidArgument
from ..values import Value, field
from .lexer import heredoc_word

DEFAULT_SHELL: Tuple[str, ...] = ("/bin/sh", "-c")

#: Build args Docker passes to RUN without an ``ARG`` line and leaves out of history.
PROXY_ARGS = frozenset({
    "HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy", "FTP_PROXY", "ftp_proxy",
    "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
})


class Heredoc(Value, frozen=True):
    """One ``<<NAME`` body. ``content`` is raw (tabs kept); ``data`` is the chomped text."""

    name: str
    content: str
    expand: bool = True
    chomp: bool = False
    fd: int = 0

    @property
    def data(self) -> str:
        return re.sub(r"(?m)^\t+", "", self.content) if self.chomp else self.content


class Instruction(Value, frozen=True):
    """Fields every instruction has: its first and last line and the logical line as written."""

    line: int
    end_line: int
    original: str
    keyword: ClassVar[str] = ""


class From(Instruction):
    """``FROM [--platform=P] image [AS name]``."""

    image: str = ""
    name: Optional[str] = None
    platform: Optional[str] = None
    keyword: ClassVar[str] = "FROM"

    @property
    def is_scratch(self) -> bool:
        return self.image.lower() == "scratch"


class Maintainer(Instruction):
    """``MAINTAINER name`` (deprecated; sets the image's Author)."""

    maintainer: str = ""
    keyword: ClassVar[str] = "MAINTAINER"


class _CommandLine(Instruction):
    """RUN/CMD/ENTRYPOINT: exec form keeps the JSON list, shell form one string in ``args``."""

    args: Tuple[str, ...] = ()
    exec_form: bool = False

    def argv(self, shell: Sequence[str] = DEFAULT_SHELL) -> list:
        """The argv Docker stores or runs: the shell is prepended to the shell form."""
        if self.exec_form:
            return list(self.args)
        return list(shell) + list(self.args)


class Run(_CommandLine):
    """``RUN [--mount=...] [--network=...] command``; a heredoc body is kept in ``heredocs``."""

    mounts: Tuple[str, ...] = ()
    network: Optional[str] = None
    heredocs: Tuple[Heredoc, ...] = ()
    keyword: ClassVar[str] = "RUN"

    @property
    def script(self) -> Optional[Heredoc]:
        """The heredoc when the whole command is one heredoc word (``RUN <<EOF``), else None."""
        if self.exec_form or not self.heredocs or len(self.args) != 1:
            return None
        return self.heredocs[0] if heredoc_word(self.args[0]) is not None else None

    def argv(self, shell: Sequence[str] = DEFAULT_SHELL) -> list:
        """What to execute, following BuildKit for heredocs.

        ``RUN <<EOF`` runs the body with the shell (a body starting with ``#!`` is returned as is
        too: the builder writes it to a file and runs that, see ``script``). Other heredoc lines
        are handed to the shell whole, so the shell itself reads the heredocs.
        """
        if not self.heredocs or self.exec_form:
            return super().argv(shell)
        script = self.script
        if script is not None:
            return list(shell) + [script.data]
        full = self.args[0]
        for doc in self.heredocs:
            full += "\n" + doc.content + doc.name
        return list(shell) + [full]


class Cmd(_CommandLine):
    """``CMD``: the default command of the image."""

    keyword: ClassVar[str] = "CMD"


class Entrypoint(_CommandLine):
    """``ENTRYPOINT``: the command the image's CMD is appended to."""

    keyword: ClassVar[str] = "ENTRYPOINT"


class Shell(Instruction):
    """``SHELL ["exe", "arg"...]``: the shell of later shell-form instructions."""

    shell: Tuple[str, ...] = ()
    keyword: ClassVar[str] = "SHELL"


class Env(Instruction):
    """``ENV key=value...`` (or the legacy ``ENV key value``), in order."""

    pairs: Tuple[Tuple[str, str], ...] = ()
    keyword: ClassVar[str] = "ENV"


class Label(Instruction):
    """``LABEL key=value...``, in order."""

    pairs: Tuple[Tuple[str, str], ...] = ()
    keyword: ClassVar[str] = "LABEL"


class ArgDef(Value, frozen=True):
    """One ``name[=default]`` of an ARG line."""

    name: str
    default: Optional[str] = None


class Arg(Instruction):
    """``ARG name[=default]...``."""

    args: Tuple[ArgDef, ...] = ()
    keyword: ClassVar[str] = "ARG"


class Expose(Instruction):
    """``EXPOSE port[/proto]...`` (words not yet expanded)."""

    ports: Tuple[str, ...] = ()
    keyword: ClassVar[str] = "EXPOSE"

    def port_specs(self) -> list:
        """Docker's ExposedPorts keys (``80/tcp``), ranges unrolled, sorted as Docker sorts them.

        Call it on an expanded instruction: the words must be plain ``PORT[-PORT][/PROTO]``.
        """
        specs = set()
        for word in self.ports:
            port, _sep, proto = word.partition("/")
            proto = (proto or "tcp").lower()
            if proto not in ("tcp", "udp", "sctp"):
                raise self.error("invalid proto: %s" % proto)
            m = re.fullmatch(r"(\d+)(?:-(\d+))?", port)
            if not m:
                raise self.error("invalid containerPort: %s" % port)
            start = int(m.group(1))
            end = int(m.group(2)) if m.group(2) else start
            if end < start or end > 65535:
                raise self.error("invalid range specified for container port: %s" % port)
            specs.update("%d/%s" % (p, proto) for p in range(start, end + 1))
        return sorted(specs, key=lambda s: (s.split("/")[1], int(s.split("/")[0])))

    def error(self, message: str) -> InvalidArgument:
        return instruction_error(self, message)


class InlineFile(Value, frozen=True):
    """A heredoc used as a COPY/ADD source: written to ``path`` with ``data`` (tabs chomped)."""

    path: str
    data: str
    expand: bool = True


class _Transfer(Instruction):
    """What COPY and ADD share: sources, destination, heredoc files and the flags."""

    sources: Tuple[str, ...] = ()
    dest: str = ""
    inline: Tuple[InlineFile, ...] = ()
    exec_form: bool = False
    chown: Optional[str] = None
    chmod: Optional[str] = None
    link: bool = False
    exclude: Tuple[str, ...] = ()


class Copy(_Transfer):
    """``COPY [--from=stage] [--parents] src... dest``."""

    from_: Optional[str] = None
    parents: bool = False
    keyword: ClassVar[str] = "COPY"


class Add(_Transfer):
    """``ADD [--keep-git-dir] [--checksum=digest] src... dest`` (URLs and archives too)."""

    keep_git_dir: bool = False
    checksum: Optional[str] = None
    keyword: ClassVar[str] = "ADD"


class Workdir(Instruction):
    """``WORKDIR path``."""

    path: str = ""
    keyword: ClassVar[str] = "WORKDIR"


class User(Instruction):
    """``USER user[:group]``."""

    user: str = ""
    keyword: ClassVar[str] = "USER"


class Volume(Instruction):
    """``VOLUME path...`` or its JSON form."""

    paths: Tuple[str, ...] = ()
    exec_form: bool = False
    keyword: ClassVar[str] = "VOLUME"


class StopSignal(Instruction):
    """``STOPSIGNAL signal``."""

    signal: str = ""
    keyword: ClassVar[str] = "STOPSIGNAL"


class Healthcheck(Instruction):
    """``test`` is Docker's Healthcheck.Test: ``[NONE]``, ``[CMD, ...]`` or ``[CMD-SHELL, s]``."""

    test: Tuple[str, ...] = ()
    interval: int = 0
    timeout: int = 0
    start_period: int = 0
    start_interval: int = 0
    retries: int = 0
    keyword: ClassVar[str] = "HEALTHCHECK"

    def config(self) -> dict:
        """The image config's ``Healthcheck`` object (durations in nanoseconds, zero omitted)."""
        out: dict = {"Test": list(self.test)}
        for key, value in (("Interval", self.interval), ("Timeout", self.timeout),
                           ("StartPeriod", self.start_period),
                           ("StartInterval", self.start_interval), ("Retries", self.retries)):
            if value:
                out[key] = value
        return out


class OnBuild(Instruction):
    """``expression`` is what Docker stores in the image's OnBuild list (heredocs appended)."""

    trigger: Optional[Instruction] = None
    expression: str = ""
    keyword: ClassVar[str] = "ONBUILD"


AnyInstruction = Union[From, Maintainer, Run, Cmd, Entrypoint, Shell, Env, Label, Arg, Expose,
                       Copy, Add, Workdir, User, Volume, StopSignal, Healthcheck, OnBuild]

BY_KEYWORD = {cls.keyword: cls for cls in (
    From, Maintainer, Run, Cmd, Entrypoint, Shell, Env, Label, Arg, Expose, Copy, Add, Workdir,
    User, Volume, StopSignal, Healthcheck, OnBuild)}


class Stage(Value, frozen=True):
    """One build stage: its FROM and the instructions up to the next FROM."""

    index: int
    from_: From
    instructions: Tuple[Instruction, ...] = ()

    @property
    def name(self) -> Optional[str]:
        return self.from_.name


class Dockerfile(Value, frozen=True):
    """A parsed Dockerfile: its instructions, escape character and parser directives."""

    instructions: Tuple[Instruction, ...]
    escape: str = "\\"
    directives: Tuple[Tuple[str, str], ...] = ()
    warnings: Tuple[str, ...] = field(default=(), compare=False)
    filename: str = "Dockerfile"

    @property
    def global_args(self) -> Tuple[Arg, ...]:
        """The ARG instructions before the first FROM (usable in FROM lines)."""
        out = []
        for instr in self.instructions:
            if isinstance(instr, From):
                break
            if isinstance(instr, Arg):
                out.append(instr)
        return tuple(out)

    @property
    def stages(self) -> Tuple[Stage, ...]:
        stages: list = []
        current: Optional[From] = None
        body: list = []
        for instr in self.instructions:
            if isinstance(instr, From):
                if current is not None:
                    stages.append(Stage(len(stages), current, tuple(body)))
                current, body = instr, []
            elif current is not None:
                body.append(instr)
        if current is not None:
            stages.append(Stage(len(stages), current, tuple(body)))
        return tuple(stages)

    def stage(self, name_or_index: Union[str, int]) -> Stage:
        """A stage by ``AS`` name (case-insensitive) or index; the build target lookup."""
        for stage in self.stages:
            if isinstance(name_or_index, int) and stage.index == name_or_index:
                return stage
            if isinstance(name_or_index, str) and stage.name == name_or_index.lower():
                return stage
        raise InvalidArgument("%s: target stage %r could not be found"
                              % (self.filename, name_or_index))


def instruction_error(instr: Instruction, message: str,
                      filename: str = "Dockerfile") -> InvalidArgument:
    return InvalidArgument("%s:%d: %s: %s" % (filename, instr.line, instr.keyword, message))


# --- history strings --------------------------------------------------------------------------

def go_quote_list(items: Sequence[str]) -> str:
    """Go's ``fmt.Sprintf("%q", []string{...})``: ``["a" "b"]``."""
    return "[" + " ".join(go_quote(s) for s in items) + "]"


def go_quote(s: str) -> str:
    """Go's ``strconv.Quote`` for printable text (JSON escaping agrees on everything common)."""
    return json.dumps(s, ensure_ascii=False).replace("\\u007f", "\\x7f")


def go_duration(ns: int) -> str:
    """Go's ``time.Duration.String()``: ``1m30s``, ``500ms``, ``0s``."""
    if ns == 0:
        return "0s"
    sign = "-" if ns < 0 else ""
    ns = abs(ns)
    if ns < 1000:
        return "%s%dns" % (sign, ns)
    if ns < 1000_000_000:
        unit, div = ("µs", 1000) if ns < 1000_000 else ("ms", 1000_000)
        return sign + _trim_fraction(ns, div) + unit
    hours, rest = divmod(ns, 3600 * 10**9)
    minutes, rest = divmod(rest, 60 * 10**9)
    out = sign
    if hours:
        out += "%dh" % hours
    if hours or minutes:
        out += "%dm" % minutes
    return out + _trim_fraction(rest, 10**9) + "s"


def _trim_fraction(value: int, div: int) -> str:
    whole, frac = divmod(value, div)
    if not frac:
        return str(whole)
    digits = len(str(div)) - 1
    return "%d.%s" % (whole, ("%0*d" % (digits, frac)).rstrip("0"))


def commit_message(instr: Instruction, shell: Sequence[str] = DEFAULT_SHELL,
                   source: str = "") -> str:
    """The ``#(nop)`` comment Docker's classic builder commits for a metadata step.

    ``instr`` must be expanded already; ``shell`` is the SHELL in force; ``source`` is the
    builder's description of COPY/ADD content (``file:<sha256> in /dest``).
    """
    if isinstance(instr, (Cmd, Entrypoint)):
        return "%s %s" % (instr.keyword, go_quote_list(instr.argv(shell)))
    if isinstance(instr, (Env, Label)):
        return instr.keyword + "".join(" %s=%s" % kv for kv in instr.pairs)
    if isinstance(instr, Arg):
        return "ARG " + " ".join(a.name if a.default is None else "%s=%s" % (a.name, a.default)
                                 for a in instr.args)
    if isinstance(instr, Maintainer):
        return "MAINTAINER " + instr.maintainer
    if isinstance(instr, Workdir):
        return "WORKDIR " + instr.path
    if isinstance(instr, User):
        return "USER " + instr.user
    if isinstance(instr, Expose):
        return "EXPOSE " + " ".join(instr.ports)
    if isinstance(instr, Volume):
        return "VOLUME [" + " ".join(instr.paths) + "]"
    if isinstance(instr, StopSignal):
        return "STOPSIGNAL " + instr.signal
    if isinstance(instr, Shell):
        return "SHELL [" + " ".join(instr.shell) + "]"
    if isinstance(instr, OnBuild):
        return "ONBUILD " + instr.expression
    if isinstance(instr, Healthcheck):
        durations = " ".join(go_quote(go_duration(d)) for d in (
            instr.interval, instr.timeout, instr.start_period, instr.start_interval))
        return "HEALTHCHECK &{%s %s %s}" % (go_quote_list(instr.test), durations,
                                            _go_quote_rune(instr.retries))
    if isinstance(instr, (Copy, Add)):
        return "%s %s" % (instr.keyword, source)
    raise TypeError("no commit message for %s" % instr.keyword)


def _go_quote_rune(value: int) -> str:
    """Go prints an int with %q as a quoted rune literal; Docker's history shows it that way."""
    ch = chr(value)
    if ch.isprintable() and ch not in "'\\":
        return "'%s'" % ch
    return "'\\x%02x'" % value if value < 0x80 else "'\\u%04x'" % value


def created_by(instr: Instruction, shell: Sequence[str] = DEFAULT_SHELL,
               build_args: Sequence[str] = (), source: str = "") -> str:
    """The history ``created_by`` string of a step, formatted like Docker's classic builder.

    RUN gives the command itself (``/bin/sh -c make``), prefixed with ``|N k=v ...`` when build
    args were in scope (``build_args`` as ``k=v`` strings, proxy args already left out). Other
    steps give ``/bin/sh -c #(nop)  CMD ["x"]``.
    """
    if isinstance(instr, Run):
        argv = instr.argv(shell)
        if build_args:
            argv = ["|%d" % len(build_args)] + sorted(build_args) + argv
        return " ".join(argv)
    return " ".join(list(shell) + ["#(nop) ", commit_message(instr, shell, source)])
