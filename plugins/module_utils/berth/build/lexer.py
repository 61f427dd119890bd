"""The shell-like word lexer Dockerfiles use for ``$VAR`` substitution and word splitting.

It follows BuildKit's ``shell.Lex``: single quotes are literal, double quotes expand ``$`` and let
the escape token escape ``"``, ``$`` and itself, the escape token outside quotes escapes any
character, and ``${...}`` supports ``-``/``:-``, ``+``/``:+``, ``?``/``:?``, ``#``/``##``,
``%``/``%%`` and ``/``/``//``. Unset variables expand to the empty string.
"""
from __future__ import annotations

import json
import re
from typing import List, Mapping, Optional, Set, Tuple

from ..errors import InvalidArgument
from ..values import Value

_SPECIAL_PARAMS = "@*#?-$!0"


class LexError(InvalidArgument):
    """A word could not be processed (unterminated quote, bad ``${}``)."""


class Result(Value, frozen=True):
    text: str
    words: List[str]
    matched: Set[str]
    unmatched: Set[str]


class _Words:
    """Accumulates the split words exactly like BuildKit (empty quoted words are dropped)."""

    def __init__(self) -> None:
        self.word = ""
        self.words: List[str] = []
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace():
            if self.in_word and self.word:
                self.words.append(self.word)
                self.word = ""
                self.in_word = False
        else:
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.word += text
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def done(self) -> List[str]:
        if self.word:
            self.words.append(self.word)
            self.word = ""
        return self.words


class ShellLex:
    """One lexing configuration. ``process`` returns the joined text and the split words."""

    def __init__(self, escape: str = "\\", *, raw_quotes: bool = False,
                 raw_escapes: bool = False, skip_unset: bool = False,
                 process_quotes: bool = True) -> None:
        if escape not in ("\\", "`"):
            raise InvalidArgument("invalid escape token %r does not match ` or \\" % escape)
        self.escape = escape
        self.raw_quotes = raw_quotes
        self.raw_escapes = raw_escapes
        self.skip_unset = skip_unset
        self.process_quotes = process_quotes

    def process(self, word: str, env: Mapping[str, str]) -> Result:
        run = _Run(self, word, env)
        try:
            text, words = run.until(None, self.raw_escapes)
        except LexError as e:
            raise LexError("failed to process %s: %s" % (_go_quote(word), e)) from None
        return Result(text, words, run.matched, run.unmatched)


def _printable(s: str) -> str:
    return json.dumps(s, ensure_ascii=False)[1:-1]


def _go_quote(s: str) -> str:
    """Quoted like Go's %q, so a word holding newlines still gives a one-line error."""
    return json.dumps(s, ensure_ascii=False)


class _Run:
    def __init__(self, lex: ShellLex, text: str, env: Mapping[str, str]) -> None:
        self.lex = lex
        self.text = text
        self.pos = 0
        self.env = env
        self.raw_escapes = lex.raw_escapes
        self.matched: Set[str] = set()
        self.unmatched: Set[str] = set()

    def peek(self) -> Optional[str]:
        return self.text[self.pos] if self.pos < len(self.text) else None

    def next(self) -> Optional[str]:
        ch = self.peek()
        if ch is not None:
            self.pos += 1
        return ch

    def until(self, stop: Optional[str], raw_escapes: bool) -> Tuple[str, List[str]]:
        saved, self.raw_escapes = self.raw_escapes, raw_escapes
        try:
            return self._until(stop)
        finally:
            self.raw_escapes = saved

    def _until(self, stop: Optional[str]) -> Tuple[str, List[str]]:
        out: List[str] = []
        words = _Words()
        esc = self.lex.escape
        while self.peek() is not None:
            ch = self.peek()
            if stop is not None and ch == stop:
                self.next()
                return "".join(out), words.done()
            if ch == "$":
                value = self.dollar()
                out.append(value)
                words.add_string(value)
            elif ch in "'\"" and self.lex.process_quotes:
                value = self.single_quote() if ch == "'" else self.double_quote()
                out.append(value)
                words.add_raw(value)
            else:
                self.next()
                if ch == esc:
                    if self.raw_escapes:
                        words.add_raw(ch)
                        out.append(ch)
                    ch = self.next()
                    if ch is None:
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
        if stop is not None:
            raise LexError("unexpected end of statement while looking for matching %s" % stop)
        return "".join(out), words.done()

    def single_quote(self) -> str:
        quote = self.next()
        out = [quote] if self.lex.raw_quotes else []
        while True:
            ch = self.next()
            if ch is None:
                raise LexError("unexpected end of statement while looking for matching "
                               "single-quote")
            if ch == "'":
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            out.append(ch)

    def double_quote(self) -> str:
        quote = self.next()
        out = [quote] if self.lex.raw_quotes else []
        esc = self.lex.escape
        while True:
            ch = self.peek()
            if ch is None:
                raise LexError("unexpected end of statement while looking for matching "
                               "double-quote")
            if ch == '"':
                self.next()
                if self.lex.raw_quotes:
                    out.append(ch)
                return "".join(out)
            if ch == "$":
                out.append(self.dollar())
                continue
            ch = self.next()
            if ch == esc:
                if self.raw_escapes:
                    out.append(ch)
                following = self.peek()
                if following is None:
                    continue
                if following in ('"', "$", esc):
                    ch = self.next()
            out.append(ch)

    def name(self) -> str:
        start = self.pos
        ch = self.peek()
        if ch is not None and ch.isdecimal():
            while self.peek() is not None and self.peek().isdecimal():
                self.next()
            return self.text[start:self.pos]
        if ch is not None and ch in _SPECIAL_PARAMS:
            self.next()
            return ch
        while self.peek() is not None and (self.peek().isalnum() or self.peek() == "_"):
            self.next()
        return self.text[start:self.pos]

    def lookup(self, name: str) -> Tuple[str, bool]:
        if name in self.env:
            self.matched.add(name)
            return self.env[name], True
        self.unmatched.add(name)
        return "", False

    def dollar(self) -> str:
        self.next()
        if self.peek() != "{":
            name = self.name()
            if not name:
                return "$"
            value, found = self.lookup(name)
            if not found and self.lex.skip_unset:
                return "$" + name
            return value
        self.next()
        ch = self.peek()
        if ch is None:
            raise LexError("syntax error: missing '}'")
        if ch in "{}:":
            raise LexError("syntax error: bad substitution")
        name = self.name()
        ch = self.next()
        if ch is None:
            raise LexError("syntax error: missing '}'")
        if ch == "}":
            value, found = self.lookup(name)
            if not found and self.lex.skip_unset:
                return "${%s}" % name
            return value
        if ch == "/":
            return self.replace(name)
        modifier = ch
        null_is_unset = False
        if ch == ":":
            null_is_unset = True
            ch = self.next()
            if ch is None:
                raise LexError("syntax error: missing '}'")
            modifier += ch
        if ch not in "+-?#%" and not null_is_unset:
            raise LexError("unsupported modifier (%s) in substitution" % _printable(modifier))
        try:
            word, _words = self.until("}", ch in "#%")
        except LexError:
            if self.peek() is None:
                raise LexError("syntax error: missing '}'") from None
            raise
        value, found = self.lookup(name)
        if self.lex.skip_unset and not found:
            return "${%s%s%s}" % (name, modifier, word)
        empty = not found or (null_is_unset and value == "")
        if ch == "-":
            return word if empty else value
        if ch == "+":
            return "" if empty else word
        if ch == "?":
            if not found:
                raise LexError("%s: %s" % (name, word or "is not allowed to be unset"))
            if null_is_unset and value == "":
                raise LexError("%s: %s" % (name, word or "is not allowed to be empty"))
            return value
        if ch in "#%":
            greedy = word.startswith(ch)
            if greedy:
                word = word[1:]
            return _trim(value, _pattern(word), suffix=(ch == "%"), greedy=greedy)
        raise LexError("unsupported modifier (%s) in substitution" % _printable(modifier))

    def replace(self, name: str) -> str:
        replace_all = self.peek() == "/"
        if replace_all:
            self.next()
        try:
            pattern, _words = self.until("/", True)
        except LexError:
            if self.peek() is None:
                raise LexError("syntax error: missing '/' in ${}") from None
            raise
        try:
            replacement, _words = self.until("}", True)
        except LexError:
            if self.peek() is None:
                raise LexError("syntax error: missing '}'") from None
            raise
        value, found = self.lookup(name)
        if self.lex.skip_unset and not found:
            return "${%s/%s/%s}" % (name, pattern, replacement)
        regex = re.compile(_pattern(pattern), re.S)
        return regex.sub(lambda m: replacement, value, count=0 if replace_all else 1)


def _pattern(pattern: str) -> str:
    """A shell pattern (``*``, ``?``, ``\\`` escapes; no brackets) as a Python regex body."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        i += 1
        if ch == "*":
            out.append(".*")
        elif ch == "?":
            out.append(".")
        elif ch == "\\":
            following = pattern[i] if i < len(pattern) else ""
            if following in ("}", "/"):
                continue
            if following not in ("*", "?", "\\"):
                raise LexError("invalid pattern (%s) in substitution: invalid escape '\\%s'"
                               % (pattern, following))
            out.append(re.escape(following))
            i += 1
        else:
            out.append(re.escape(ch))
    return "".join(out)


def _trim(value: str, regex: str, suffix: bool, greedy: bool) -> str:
    """Remove the shortest (or longest) prefix/suffix of ``value`` matching ``regex``."""
    compiled = re.compile(regex, re.S)
    n = len(value)
    cuts = range(n + 1) if greedy == suffix else range(n, -1, -1)
    for cut in cuts:
        part = value[cut:] if suffix else value[:cut]
        if compiled.fullmatch(part):
            return value[:cut] if suffix else value[cut:]
    return value


# --- heredoc words ----------------------------------------------------------------------------

class HeredocWord(Value, frozen=True):
    name: str
    expand: bool
    chomp: bool
    fd: int


_HEREDOC = re.compile(r"(\d*)<<(-?)([^<]*)\Z")


def heredoc_word(word: str) -> Optional[HeredocWord]:
    """Parse one word like ``<<EOF``, ``<<-"EOF"`` or ``2<<EOF``; None if it is not one."""
    m = _HEREDOC.match(word)
    if not m or not m.group(3):
        return None
    rest = m.group(3)
    plain = ShellLex("\\", skip_unset=True).process(rest, {}).words
    if len(plain) != 1:
        return None
    raw = ShellLex("\\", skip_unset=True, raw_quotes=True).process(rest, {}).words
    quotes = plain[0].count("'") + plain[0].count('"')
    raw_quotes = raw[0].count("'") + raw[0].count('"')
    return HeredocWord(plain[0], quotes == raw_quotes, m.group(2) == "-",
                       int(m.group(1) or 0))


def heredocs_in_line(line: str) -> List[HeredocWord]:
    """Every heredoc word of an instruction line, in order (several per line are allowed)."""
    try:
        words = ShellLex("\\", raw_quotes=True, raw_escapes=True,
                         skip_unset=True).process(line, {}).words
    except LexError:
        return []
    found = []
    for word in words:
        doc = heredoc_word(word)
        if doc is not None:
            found.append(doc)
    return found
