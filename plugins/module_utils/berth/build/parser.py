"""Dockerfile text -> ``Dockerfile`` of typed instructions, following BuildKit's parser.

Reading happens in two layers, like BuildKit: ``_read_logical`` turns physical lines into logical
instruction lines (BOM, parser directives, comments, escape-token continuations, heredoc bodies),
and ``_Builder`` turns one logical line into a typed instruction (flags, JSON vs shell form,
per-instruction argument rules). Errors are one line: ``Dockerfile:LINE: KEYWORD: message``.
"""
from __future__ import annotations

import re
from typing import Dict, Iterator, List, Optional, Sequence, Tuple, Union

from ..errors import InvalidArgument
from ..units import parse_duration
from ..values import Value
from . import instructions as ins
from .arguments import (
    FlagSpec, extract_flags, json_array, parse_flags, parse_name_values, parse_words,
    split_whitespace,
)
from .lexer import HeredocWord, LexError, heredoc_word, heredocs_in_line

_DIRECTIVE = re.compile(r"#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)"
                        r"[\t\n\f\r ]*\Z")
_KNOWN_DIRECTIVES = ("syntax", "escape", "check")
_HEREDOC_KEYWORDS = ("RUN", "COPY", "ADD")
_STAGE_NAME = re.compile(r"[a-z][a-z0-9-_.]*\Z")
_GO_SPACE = "\t\n\v\f\r \x85\xa0"
_MIN_DURATION = 1_000_000  # Docker's container.MinimumDuration (1ms)

_FLAGS: Dict[str, Dict[str, FlagSpec]] = {
    "FROM": {"platform": "string"},
    "RUN": {"mount": "list", "network": "string"},
    "COPY": {"from": "string", "chown": "string", "chmod": "string", "link": "bool",
             "parents": "bool", "exclude": "list"},
    "ADD": {"chown": "string", "chmod": "string", "checksum": "string", "link": "bool",
            "keep-git-dir": "bool", "exclude": "list"},
    "HEALTHCHECK": {"interval": "string", "timeout": "string", "start-period": "string",
                    "start-interval": "string", "retries": "string"},
}


class ParseError(Exception):
    """Internal: a message for the instruction being built; turned into InvalidArgument."""


class _Logical(Value, frozen=True):
    start: int
    end: int
    text: str
    heredocs: Tuple[ins.Heredoc, ...]
    keyword: str


def parse(text: Union[str, bytes], filename: str = "Dockerfile") -> ins.Dockerfile:
    """Parse a whole Dockerfile; every instruction after the first FROM belongs to a stage."""
    reader = _Reader(text, filename)
    out: List[ins.Instruction] = []
    for logical in reader.logical_lines():
        out.append(_build(logical, reader.escape, filename))
    if not out:
        raise InvalidArgument("%s:%d: file with no instructions" % (filename, reader.lineno))
    _check_stages(out, filename)
    return ins.Dockerfile(tuple(out), reader.escape, tuple(reader.directives),
                          tuple(reader.warnings), filename)


def parse_instruction(text: str, filename: str) -> ins.Instruction:
    """Parse exactly one instruction outside any stage (``--change`` lines of import/commit)."""
    reader = _Reader(text, filename, directives=False)
    found = [_build(logical, reader.escape, filename) for logical in reader.logical_lines()]
    if len(found) != 1:
        raise InvalidArgument("%s: expected exactly one instruction: %r" % (filename, text))
    return found[0]


def parse_trigger(expression: str, escape: str = "\\") -> ins.Instruction:
    """Parse one stored ONBUILD trigger (``RUN make``) for the child build to run."""
    reader = _Reader(expression, "ONBUILD", escape=escape, directives=False)
    found = [_build(logical, escape, "ONBUILD") for logical in reader.logical_lines()]
    if len(found) != 1:
        raise InvalidArgument("ONBUILD: trigger must hold exactly one instruction: %r"
                              % expression)
    _check_trigger(found[0].keyword, found[0].line, "ONBUILD")
    return found[0]


def _check_stages(out: Sequence[ins.Instruction], filename: str) -> None:
    seen: Dict[str, int] = {}
    in_stage = False
    for instr in out:
        if isinstance(instr, ins.From):
            in_stage = True
            if instr.name is not None:
                if instr.name in seen:
                    raise ins.instruction_error(instr, "duplicate stage name %s"
                                                % ins.go_quote(instr.name), filename)
                seen[instr.name] = instr.line
        elif not in_stage and not isinstance(instr, ins.Arg):
            raise ins.instruction_error(instr, "no build stage in current context", filename)
    if not in_stage:
        raise InvalidArgument("%s: dockerfile contains no stages to build" % filename)


# --- physical lines -> logical lines ----------------------------------------------------------

class _Reader:
    def __init__(self, text: Union[str, bytes], filename: str, escape: str = "\\",
                 directives: bool = True) -> None:
        if isinstance(text, bytes):
            text = text.decode("utf-8", "surrogateescape")
        if text.startswith("\ufeff"):
            text = text[1:]
        parts = text.split("\n")
        self.lines = [p + "\n" for p in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
        self.filename = filename
        self.escape = escape
        self.directives: List[Tuple[str, str]] = []
        self.directives_done = not directives
        self.warnings: List[str] = []
        self.lineno = 0
        self._set_continuation()

    def _set_continuation(self) -> None:
        e = re.escape(self.escape)
        self.continuation = re.compile(r"([^%s])%s[ \t]*\Z|^%s[ \t]*\Z" % (e, e, e))

    def _error(self, line: int, message: str) -> InvalidArgument:
        return InvalidArgument("%s:%d: %s" % (self.filename, line, message))

    def _directive(self, token: str) -> None:
        if self.directives_done:
            return
        m = _DIRECTIVE.match(token)
        key = m.group(1).lower() if m else ""
        if key not in _KNOWN_DIRECTIVES:
            self.directives_done = True
            return
        if any(k == key for k, _value in self.directives):
            raise self._error(self.lineno + 1, "only one %s parser directive can be used" % key)
        value = m.group(2)
        if key == "escape":
            if value not in ("`", "\\"):
                raise self._error(self.lineno + 1, "invalid escape token '%s' does not match "
                                  "` or \\" % value)
            self.escape = value
            self._set_continuation()
        self.directives.append((key, value))

    def _trim_continuation(self, line: str) -> Tuple[str, bool]:
        m = self.continuation.search(line)
        if not m:
            return line, True
        return line[:m.start()] + (m.group(1) or ""), False

    def logical_lines(self) -> Iterator[_Logical]:
        lines = self.lines
        i = 0
        while i < len(lines):
            token = lines[i].rstrip("\r\n").lstrip(_GO_SPACE)
            i += 1
            self._directive(token)
            if token.startswith("#"):
                token = ""
            self.lineno += 1
            start = self.lineno
            line, done = self._trim_continuation(token)
            if done and line == "":
                continue
            empty_continuation = False
            while not done and i < len(lines):
                raw = lines[i].rstrip("\r\n")
                i += 1
                self.lineno += 1
                stripped = raw.lstrip(_GO_SPACE)
                if stripped.startswith("#"):
                    continue
                if not stripped:
                    empty_continuation = True
                    continue
                part, done = self._trim_continuation(raw)
                line += part
            if empty_continuation:
                self.warnings.append("%s:%d: empty continuation line found in: %s"
                                     % (self.filename, start, line))
            keyword = re.split(r"[\t\v\f\r ]+", line.strip(), maxsplit=1)[0].upper()
            docs: List[ins.Heredoc] = []
            if _can_contain_heredoc(line):
                try:
                    words = heredocs_in_line(line)
                except LexError as e:
                    raise self._error(start, "%s: %s" % (keyword, e)) from None
                for word in words:
                    content, i = self._heredoc_body(word, i, start, keyword)
                    docs.append(ins.Heredoc(word.name, content, word.expand, word.chomp,
                                            word.fd))
            yield _Logical(start, self.lineno, line, tuple(docs), keyword)

    def _heredoc_body(self, word: HeredocWord, i: int, start: int,
                      keyword: str) -> Tuple[str, int]:
        body: List[str] = []
        while i < len(self.lines):
            raw = self.lines[i]
            i += 1
            self.lineno += 1
            candidate = raw.rstrip("\r\n")
            if word.chomp:
                candidate = candidate.lstrip("\t")
            if candidate == word.name:
                return "".join(body), i
            body.append(raw)
        raise self._error(start, "%s: unterminated heredoc" % keyword)


def _can_contain_heredoc(line: str) -> bool:
    keyword, _sep, rest = _split_keyword(line)
    if keyword == "ONBUILD":
        keyword, _sep, rest = _split_keyword(rest)
    if keyword not in _HEREDOC_KEYWORDS:
        return False
    try:
        rest, _flags = extract_flags(rest)
        return json_array(rest) is None
    except ValueError:
        return False


def _split_keyword(line: str) -> Tuple[str, str, str]:
    parts = re.split(r"[\t\v\f\r ]+", line.strip(), maxsplit=1)
    return parts[0].upper(), "", parts[1] if len(parts) == 2 else ""


# --- one logical line -> one typed instruction ------------------------------------------------

def _build(logical: _Logical, escape: str, filename: str) -> ins.Instruction:
    try:
        return _Builder(logical, escape).build(logical.text)
    except (ParseError, ValueError, LexError) as e:
        message = str(e).replace("\n", " ")
        where = "%s:%d: %s" % (filename, logical.start, logical.keyword)
        raise InvalidArgument("%s: %s" % (where, message)) from None


def _check_trigger(keyword: str, line: int, filename: str) -> None:
    if keyword == "ONBUILD":
        raise InvalidArgument("%s:%d: ONBUILD: Chaining ONBUILD via `ONBUILD ONBUILD` isn't "
                              "allowed" % (filename, line))
    if keyword in ("FROM", "MAINTAINER"):
        raise InvalidArgument("%s:%d: ONBUILD: %s isn't allowed as an ONBUILD trigger"
                              % (filename, line, keyword))


class _Builder:
    def __init__(self, logical: _Logical, escape: str) -> None:
        self.logical = logical
        self.escape = escape

    def build(self, line: str) -> ins.Instruction:
        keyword, _sep, rest = _split_keyword(line)
        rest, flag_words = extract_flags(rest)
        rest = rest.strip()
        method = getattr(self, "_" + keyword.lower(), None) if keyword.isalpha() else None
        if keyword not in ins.BY_KEYWORD or method is None:
            raise ParseError("unknown instruction: %s" % keyword)
        self.base = dict(line=self.logical.start, end_line=self.logical.end, original=line)
        self.keyword = keyword
        self.flag_words = flag_words
        return method(rest)

    def flags(self, allowed: Optional[Dict[str, FlagSpec]] = None) -> Dict[str, object]:
        return parse_flags(self.flag_words, allowed if allowed is not None
                           else _FLAGS.get(self.keyword, {}))

    def one_arg(self, rest: str) -> str:
        self.flags()
        if not rest:
            raise ParseError("%s requires exactly one argument" % self.keyword)
        return rest

    # instructions, in the order of the Dockerfile reference

    def _from(self, rest: str) -> ins.From:
        flags = self.flags()
        args = split_whitespace(rest)
        name = None
        if len(args) == 3 and args[1].lower() == "as":
            name = args[2].lower()
            if not _STAGE_NAME.match(name):
                raise ParseError("invalid name for build stage: %s, name can't start with a "
                                 "number or contain symbols" % ins.go_quote(args[2]))
        elif len(args) != 1:
            raise ParseError("FROM requires either one or three arguments")
        return ins.From(**self.base, image=args[0], name=name,
                        platform=flags.get("platform"))  # type: ignore[arg-type]

    def _maintainer(self, rest: str) -> ins.Maintainer:
        return ins.Maintainer(**self.base, maintainer=self.one_arg(rest))

    def _command_line(self, rest: str) -> Tuple[Tuple[str, ...], bool]:
        exec_args = json_array(rest)
        if exec_args is not None:
            return tuple(exec_args), True
        if not rest:
            raise ParseError("%s requires at least one argument" % self.keyword)
        return (rest,), False

    def _run(self, rest: str) -> ins.Run:
        flags = self.flags()
        network = flags.get("network")
        if network is not None and network not in ("default", "none", "host"):
            raise ParseError("unsupported network mode %s" % ins.go_quote(str(network)))
        args, exec_form = self._command_line(rest)
        return ins.Run(**self.base, args=args, exec_form=exec_form,
                       mounts=tuple(flags.get("mount", ())),  # type: ignore[arg-type]
                       network=network, heredocs=self.logical.heredocs)  # type: ignore

    def _cmd(self, rest: str) -> ins.Cmd:
        self.flags()
        args, exec_form = self._command_line(rest)
        return ins.Cmd(**self.base, args=args, exec_form=exec_form)

    def _entrypoint(self, rest: str) -> ins.Entrypoint:
        self.flags()
        args, exec_form = self._command_line(rest)
        return ins.Entrypoint(**self.base, args=args, exec_form=exec_form)

    def _label(self, rest: str) -> ins.Label:
        self.flags()
        return ins.Label(**self.base, pairs=parse_name_values(rest, "LABEL", self.escape))

    def _expose(self, rest: str) -> ins.Expose:
        self.flags()
        ports = split_whitespace(rest)
        if not ports:
            raise ParseError("EXPOSE requires at least one argument")
        return ins.Expose(**self.base, ports=tuple(sorted(ports)))

    def _env(self, rest: str) -> ins.Env:
        self.flags()
        return ins.Env(**self.base, pairs=parse_name_values(rest, "ENV", self.escape))

    def _transfer(self, rest: str) -> Dict[str, object]:
        flags = self.flags()
        exec_args = json_array(rest)
        args = exec_args if exec_args is not None else split_whitespace(rest)
        if len(args) < 2:
            raise ParseError("%s requires at least two arguments, but only one was provided. "
                             "Destination could not be determined" % self.keyword)
        sources: List[str] = []
        inline: List[ins.InlineFile] = []
        docs = {d.name: d for d in self.logical.heredocs}
        if exec_args is None and heredoc_word(args[-1]) is not None:
            raise ParseError("%s cannot accept a heredoc as a destination" % self.keyword)
        for src in args[:-1]:
            word = heredoc_word(src) if exec_args is None else None
            if word is None:
                sources.append(src)
                continue
            doc = docs.get(word.name)
            data = doc.data if doc is not None else ""
            inline.append(ins.InlineFile(word.name, data, word.expand))
        return dict(sources=tuple(sources), dest=args[-1], inline=tuple(inline),
                    exec_form=exec_args is not None, chown=flags.get("chown"),
                    chmod=flags.get("chmod"), link=bool(flags.get("link", False)),
                    exclude=tuple(flags.get("exclude", ())), _flags=flags)  # type: ignore

    def _add(self, rest: str) -> ins.Add:
        common = self._transfer(rest)
        flags: Dict[str, object] = common.pop("_flags")  # type: ignore[assignment]
        return ins.Add(**self.base, **common, keep_git_dir=bool(flags.get("keep-git-dir")),
                       checksum=flags.get("checksum"))  # type: ignore[arg-type]

    def _copy(self, rest: str) -> ins.Copy:
        common = self._transfer(rest)
        flags: Dict[str, object] = common.pop("_flags")  # type: ignore[assignment]
        return ins.Copy(**self.base, **common, from_=flags.get("from"),
                        parents=bool(flags.get("parents")))  # type: ignore[arg-type]

    def _workdir(self, rest: str) -> ins.Workdir:
        return ins.Workdir(**self.base, path=self.one_arg(rest))

    def _user(self, rest: str) -> ins.User:
        return ins.User(**self.base, user=self.one_arg(rest))

    def _volume(self, rest: str) -> ins.Volume:
        self.flags()
        exec_args = json_array(rest)
        paths = exec_args if exec_args is not None else split_whitespace(rest)
        if not paths:
            raise ParseError("VOLUME requires at least one argument")
        if any(not p.strip() for p in paths):
            raise ParseError("VOLUME specified can not be an empty string")
        return ins.Volume(**self.base, paths=tuple(p.strip() for p in paths),
                          exec_form=exec_args is not None)

    def _stopsignal(self, rest: str) -> ins.StopSignal:
        return ins.StopSignal(**self.base, signal=self.one_arg(rest))

    def _arg(self, rest: str) -> ins.Arg:
        self.flags()
        words = parse_words(rest, self.escape)
        if not words:
            raise ParseError("ARG requires at least one argument")
        defs = []
        for word in words:
            name, eq, default = word.partition("=")
            if eq and not name:
                raise ParseError("ARG names can not be blank")
            defs.append(ins.ArgDef(name, default if eq else None))
        return ins.Arg(**self.base, args=tuple(defs))

    def _onbuild(self, rest: str) -> ins.OnBuild:
        self.flags()
        if not rest:
            raise ParseError("ONBUILD requires at least one argument")
        inner_keyword = _split_keyword(rest)[0]
        if inner_keyword == "ONBUILD":
            raise ParseError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
        if inner_keyword in ("FROM", "MAINTAINER"):
            raise ParseError("%s isn't allowed as an ONBUILD trigger" % inner_keyword)
        base = self.base
        trigger = _Builder(self.logical, self.escape).build(rest)
        expression = re.sub(r"(?i)^\s*ONBUILD\s*", "", base["original"])  # type: ignore
        for doc in self.logical.heredocs:
            expression += "\n" + doc.content + doc.name
        return ins.OnBuild(**base, trigger=trigger, expression=expression)  # type: ignore

    def _healthcheck(self, rest: str) -> ins.Healthcheck:
        if not rest:
            raise ParseError("HEALTHCHECK requires at least one argument")
        kind, _sep, command = _split_keyword(rest)
        command = command.strip()
        if kind == "NONE":
            if command or self.flag_words:
                raise ParseError("HEALTHCHECK NONE takes no arguments")
            return ins.Healthcheck(**self.base, test=("NONE",))
        flags = self.flags()
        if kind != "CMD":
            raise ParseError("Unknown type %s in HEALTHCHECK (try CMD)"
                             % ins.go_quote(rest.split()[0]))
        exec_args = json_array(command)
        if exec_args is not None:
            test = ("CMD",) + tuple(exec_args)
        else:
            test = ("CMD-SHELL", command)
        if len(test) == 1 or not command:
            raise ParseError("Missing command after HEALTHCHECK CMD")
        durations = {}
        for name in ("interval", "timeout", "start-period", "start-interval"):
            value = str(flags.get(name, ""))
            ns = parse_duration(value) if value else 0
            if ns != 0 and ns < _MIN_DURATION:
                raise ParseError("Interval %s cannot be less than 1ms" % ins.go_quote(name))
            durations[name.replace("-", "_")] = ns
        retries = 0
        if flags.get("retries", "") != "":
            text = str(flags["retries"])
            if not re.fullmatch(r"[+-]?\d+", text):
                raise ParseError('strconv.ParseInt: parsing %s: invalid syntax'
                                 % ins.go_quote(text))
            retries = int(text)
            if retries < 0:
                raise ParseError("--retries cannot be negative (%d)" % retries)
        return ins.Healthcheck(**self.base, test=test, retries=retries,
                               **durations)  # type: ignore[arg-type]

    def _shell(self, rest: str) -> ins.Shell:
        self.flags()
        exec_args = json_array(rest)
        if exec_args is None:
            if not rest:
                raise ParseError("SHELL requires at least one argument")
            raise ParseError("SHELL requires the arguments to be in JSON form")
        if not exec_args:
            raise ParseError("SHELL requires at least one argument")
        return ins.Shell(**self.base, shell=tuple(exec_args))
