"""Variable substitution: which instructions get it and how each of their words is expanded.

Docker expands ``$VAR``/``${VAR...}`` in ADD, ARG, COPY, ENV, EXPOSE, FROM, LABEL, STOPSIGNAL,
USER, VOLUME and WORKDIR (and in the COPY/ADD ``--from``/``--chown``/``--chmod``/``--checksum`` and
RUN ``--mount`` flag values), never in RUN, CMD, ENTRYPOINT, SHELL, HEALTHCHECK or MAINTAINER: the
shell does that at run time. ONBUILD triggers are expanded when they run in the child build.
"""
from __future__ import annotations

from typing import Callable, List, Mapping, Optional, TypeVar

from .instructions import (
    Add, Arg, ArgDef, Copy, Env, Expose, From, InlineFile, Instruction, Label, Run, StopSignal,
    User, Volume, Workdir,
)
from .lexer import LexError, Result, ShellLex

#: Keywords whose arguments go through substitution when the step is built.
SUBSTITUTED = frozenset({"ADD", "ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL",
                         "USER", "VOLUME", "WORKDIR"})
#: Keywords passed to the shell (or exec'd) verbatim.
NOT_SUBSTITUTED = frozenset({"RUN", "CMD", "ENTRYPOINT", "SHELL", "HEALTHCHECK", "MAINTAINER",
                             "ONBUILD"})

InstructionT = TypeVar("InstructionT", bound=Instruction)


def expand(word: str, env: Mapping[str, str], escape: str = "\\") -> str:
    """One word with variables expanded and quotes removed; inner spaces are kept."""
    return ShellLex(escape).process(word, env).text


def expand_with_matches(word: str, env: Mapping[str, str], escape: str = "\\") -> Result:
    """Like ``expand`` but also tells which names were found/missing (for build-arg tracking)."""
    return ShellLex(escape).process(word, env)


def split_words(text: str, env: Mapping[str, str], escape: str = "\\") -> List[str]:
    """Expand, then split on unquoted whitespace (values of variables are split too)."""
    return ShellLex(escape).process(text, env).words


def expand_heredoc(data: str, env: Mapping[str, str]) -> str:
    """A COPY/ADD heredoc body with expansion on: quotes stay literal, ``\\`` still escapes."""
    return ShellLex("\\", process_quotes=False).process(data, env).text


def expand_instruction(instr: InstructionT, env: Mapping[str, str], escape: str = "\\",
                       filename: str = "Dockerfile") -> InstructionT:
    """The instruction with its words expanded in ``env`` (ENV values over ARG values).

    Instructions Docker does not substitute come back unchanged. Errors become one line:
    ``Dockerfile:LINE: KEYWORD: failed to process "...": ...``.
    """
    if instr.keyword not in SUBSTITUTED and not isinstance(instr, Run):
        return instr
    lex = ShellLex(escape)

    def one(word: str) -> str:
        return lex.process(word, env).text

    def opt(word: Optional[str]) -> Optional[str]:
        return None if word is None else one(word)

    try:
        expanded = _EXPANDERS[type(instr)](instr, one, opt, lex, env)
    except LexError as e:
        from .instructions import instruction_error
        raise instruction_error(instr, str(e), filename) from None
    if not isinstance(expanded, type(instr)):  # each expander returns a copy of its own kind
        raise TypeError(f"expanding {instr.keyword} gave a {type(expanded).__name__}")
    return expanded


Word = Callable[[str], str]
OptWord = Callable[[Optional[str]], Optional[str]]


def _from(i: From, one: Word, opt: OptWord, lex: ShellLex, env: Mapping[str, str]) -> From:
    return i.replace(image=one(i.image), platform=opt(i.platform))


def _pairs(i: Instruction, one: Word, opt: OptWord, lex: ShellLex,
           env: Mapping[str, str]) -> Instruction:
    return i.replace(pairs=tuple((one(k), one(v)) for k, v in i.pairs))


def _arg(i: Arg, one: Word, opt: OptWord, lex: ShellLex, env: Mapping[str, str]) -> Arg:
    return i.replace(args=tuple(ArgDef(one(a.name), opt(a.default)) for a in i.args))


def _expose(i: Expose, one: Word, opt: OptWord, lex: ShellLex,
            env: Mapping[str, str]) -> Expose:
    ports: List[str] = []
    for word in i.ports:
        ports.extend(lex.process(word, env).words)
    return i.replace(ports=tuple(ports))


def _transfer(i: Instruction, one: Word, opt: OptWord, lex: ShellLex,
              env: Mapping[str, str]) -> Instruction:
    changes = dict(
        sources=tuple(one(s) for s in i.sources), dest=one(i.dest), chown=opt(i.chown),
        chmod=opt(i.chmod), exclude=tuple(one(e) for e in i.exclude),
        inline=tuple(InlineFile(f.path, expand_heredoc(f.data, env) if f.expand else f.data,
                                f.expand) for f in i.inline))
    if isinstance(i, Copy):
        changes["from_"] = opt(i.from_)
    else:
        changes["checksum"] = opt(i.checksum)
    return i.replace(**changes)


def _run(i: Run, one: Word, opt: OptWord, lex: ShellLex, env: Mapping[str, str]) -> Run:
    return i.replace(mounts=tuple(one(m) for m in i.mounts))


def _volume(i: Volume, one: Word, opt: OptWord, lex: ShellLex,
            env: Mapping[str, str]) -> Volume:
    return i.replace(paths=tuple(one(p) for p in i.paths))


_EXPANDERS: dict = {
    From: _from,
    Env: _pairs,
    Label: _pairs,
    Arg: _arg,
    Expose: _expose,
    Copy: _transfer,
    Add: _transfer,
    Run: _run,
    Volume: _volume,
    Workdir: lambda i, one, opt, lex, env: i.replace(path=one(i.path)),
    User: lambda i, one, opt, lex, env: i.replace(user=one(i.user)),
    StopSignal: lambda i, one, opt, lex, env: i.replace(signal=one(i.signal)),
}
