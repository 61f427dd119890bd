"""Splitting an instruction's arguments the way BuildKit does: flags, JSON arrays, words.

Raises ``ValueError`` with Docker's wording; the parser adds the file, line and keyword.
"""
from __future__ import annotations

import json
import re
from typing import Dict, List, Optional, Tuple

FlagSpec = str  # "string", "bool" or "list" (a repeatable string flag such as --mount)

_WHITESPACE = re.compile(r"[\t\v\f\r ]+")
_GO_SPACE = "\t\n\v\f\r \x85\xa0"


def split_whitespace(rest: str) -> List[str]:
    """Plain whitespace split (FROM, EXPOSE, shell-form COPY/ADD/VOLUME): quotes stay as is."""
    return [w for w in _WHITESPACE.split(rest) if w] if rest else []


def extract_flags(line: str) -> Tuple[str, List[str]]:
    """Leading ``--name[=value]`` words (quotes and ``\\`` handled) and the rest of the line."""
    words: List[str] = []
    word = ""
    phase = "spaces"
    quote = ""
    blank_ok = False
    pos = 0
    n = len(line)
    while pos <= n:
        ch = line[pos] if pos < n else ""
        if phase == "spaces":
            if pos == n:
                break
            if ch in _GO_SPACE:
                pos += 1
                continue
            if ch != "-" or pos + 1 == n or line[pos + 1] != "-":
                return line[pos:], words
            phase = "word"
        if pos == n:
            if word != "--" and (blank_ok or word):
                words.append(word)
            break
        if phase == "word":
            if ch in _GO_SPACE:
                phase = "spaces"
                if word == "--":
                    return line[pos:], words
                if blank_ok or word:
                    words.append(word)
                word, blank_ok = "", False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, "quote"
                pos += 1
                continue
            if ch == "\\":
                if pos + 1 == n:
                    pos += 1
                    continue
                pos += 1
                ch = line[pos]
            word += ch
            pos += 1
            continue
        # inside quotes
        if ch == quote:
            phase = "word"
            pos += 1
            continue
        if ch == "\\":
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            pos += 1
            ch = line[pos]
        word += ch
        pos += 1
    return "", words


def parse_flags(words: List[str], allowed: Dict[str, FlagSpec]) -> Dict[str, object]:
    """Validate flag words against ``allowed``; list flags collect every occurrence."""
    values: Dict[str, object] = {}
    for word in words:
        if not word.startswith("--"):
            raise ValueError("Arg should start with -- : %s" % word)
        name, eq, value = word[2:].partition("=")
        kind = allowed.get(name)
        if kind is None:
            raise ValueError("unknown flag: %s" % name)
        if kind == "list":
            if not eq:
                raise ValueError("Missing a value on flag: %s" % name)
            values.setdefault(name, [])
            values[name].append(value)  # type: ignore[attr-defined]
            continue
        if name in values:
            raise ValueError("Duplicate flag specified: %s" % name)
        if kind == "bool":
            value = value.lower() if eq else "true"
            if value not in ("true", "false"):
                raise ValueError("expecting boolean value for flag %s, not: %s" % (name, value))
            values[name] = value == "true"
        else:
            if not eq:
                raise ValueError("Missing a value on flag: %s" % name)
            values[name] = value
    return values


def json_array(rest: str) -> Optional[List[str]]:
    """The list when ``rest`` is a JSON array of strings (exec form), None for shell form."""
    text = rest.lstrip(_GO_SPACE)
    if not text.startswith("["):
        return None
    try:
        value = json.loads(text, parse_constant=_reject_constant)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(item, str) for item in value):
        raise ValueError("when using JSON array syntax, arrays must be comprised of strings only")
    return value


def _reject_constant(name: str) -> object:
    raise ValueError("invalid JSON constant %s" % name)


def parse_words(rest: str, escape: str) -> List[str]:
    """Split on unquoted whitespace, keeping quotes and escapes for the later expansion step."""
    words: List[str] = []
    word = ""
    phase = "spaces"
    quote = ""
    blank_ok = False
    pos = 0
    n = len(rest)
    while True:
        at_end = pos == n
        ch = "" if at_end else rest[pos]
        if phase == "spaces":
            if at_end:
                break
            if ch.isspace():
                pos += 1
                continue
            phase = "word"
        if at_end:
            if blank_ok or word:
                words.append(word)
            break
        if phase == "word":
            if ch.isspace():
                phase = "spaces"
                if blank_ok or word:
                    words.append(word)
                word, blank_ok = "", False
                pos += 1
                continue
            if ch in "'\"":
                quote, blank_ok, phase = ch, True, "quote"
            if ch == escape:
                if pos + 1 == n:
                    pos += 1
                    continue
                word += ch
                pos += 1
                ch = rest[pos]
            word += ch
            pos += 1
            continue
        if ch == quote:
            phase = "word"
        elif ch == escape and quote != "'":
            if pos + 1 == n:
                phase = "word"
                pos += 1
                continue
            word += ch
            pos += 1
            ch = rest[pos]
        word += ch
        pos += 1
    return words


def parse_name_values(rest: str, keyword: str, escape: str) -> Tuple[Tuple[str, str], ...]:
    """ENV/LABEL: ``KEY value with spaces`` (old form) or ``k=v k2="v 2"`` (words with ``=``)."""
    words = parse_words(rest, escape)
    if not words:
        raise ValueError("%s requires at least one argument" % keyword)
    if "=" not in words[0]:
        parts = _WHITESPACE.split(rest, maxsplit=1)
        if len(parts) < 2 or not parts[1]:
            raise ValueError("%s must have two arguments" % keyword)
        return ((parts[0], parts[1]),)
    pairs = []
    for word in words:
        if "=" not in word:
            raise ValueError("Syntax error - can't find = in %s. Must be of the form: name=value"
                             % json.dumps(word))
        key, _sep, value = word.partition("=")
        if not key:
            raise ValueError("%s names can not be blank" % keyword)
        pairs.append((key, value))
    return tuple(pairs)
