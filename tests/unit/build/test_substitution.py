"""Variable substitution: the word table (BuildKit's odd cases) and per-instruction expansion."""
from __future__ import annotations

import pytest

from berth.build import SUBSTITUTED, expand, expand_instruction, parse, split_words
from berth.build.instructions import ArgDef, InlineFile
from berth.build.lexer import LexError
from berth.errors import InvalidArgument

ENV = {"PWD": "/home", "SHELL": "bash", "NULL": "", "PATHLIKE": "/usr/local/bin.tar.gz"}

ERROR = object()

WORDS = [
    ("hello", "hello"),
    ("he'll'o", "hello"),
    ("he'llo", ERROR),
    ("he\\'llo", "he'llo"),
    ("he\\\\'llo", ERROR),
    ("abc\\tdef", "abctdef"),
    ('"abc\\tdef"', "abc\\tdef"),
    ('"abc\\\\tdef"', "abc\\tdef"),
    ("'abc\\tdef'", "abc\\tdef"),
    ("hello\\", "hello"),
    ("hello\\\\", "hello\\"),
    ('"hello', ERROR),
    ('"hello\\"', ERROR),
    ('"hel\'lo"', "hel'lo"),
    ("'hello", ERROR),
    ("'hello\\'", "hello\\"),
    ('"\'\'"', "''"),
    ("$.", "$."),
    ("$", "$"),
    ("he$1x", "hex"),
    ("he$.x", "he$.x"),
    ("he$pwd.", "he."),
    ("he$PWD", "he/home"),
    ("he\\$PWD", "he$PWD"),
    ("he\\\\$PWD", "he\\/home"),
    ('"he\\$PWD"', "he$PWD"),
    ('"he\\\\$PWD"', "he\\/home"),
    ("\\${}", "${}"),
    ("he\\${}xx", "he${}xx"),
    ("${}", ERROR),
    ("he${}xx", ERROR),
    ("he${hi}xx", "hexx"),
    ("he${PWD}", "he/home"),
    ("he${.}", ERROR),
    ("he${XXX:-000}xx", "he000xx"),
    ("he${PWD:-000}xx", "he/homexx"),
    ("he${XXX:-$PWD}xx", "he/homexx"),
    ("he${XXX:-${PWD:-yyy}}xx", "he/homexx"),
    ("he${XXX:-${YYY:-yyy}}xx", "heyyyxx"),
    ("he${NULL:-def}", "hedef"),
    ("he${NULL-def}", "he"),
    ("he${XXX-def}", "hedef"),
    ("he${XXX:YYY}", ERROR),
    ("he${XXX?}", ERROR),
    ("he${XXX:?}", ERROR),
    ("he${PWD?}", "he/home"),
    ("he${PWD:?}", "he/home"),
    ("he${NULL?}", "he"),
    ("he${NULL:?}", ERROR),
    ("he${XXX:+${PWD}}xx", "hexx"),
    ("he${PWD:+${XXX}}xx", "hexx"),
    ("he${PWD:+${SHELL}}xx", "hebashxx"),
    ("he${XXX:+000}xx", "hexx"),
    ("he${PWD:+000}xx", "he000xx"),
    ("he${NULL+set}", "heset"),
    ("he${NULL:+set}", "he"),
    ("'he${XX}'", "he${XX}"),
    ('"he${PWD}"', "he/home"),
    ('"he\'$PWD\'"', "he'/home'"),
    ('"$PWD"', "/home"),
    ("'$PWD'", "$PWD"),
    ("'\\$PWD'", "\\$PWD"),
    ("'\"hello\"'", '"hello"'),
    ("he${PWD", ERROR),
    ("he${PWD=000}xx", ERROR),
    ("he${PWD+${PWD}:}xx", "he/home:xx"),
    ("he${XXX-${PWD:-${XXX}}}xx", "he/homexx"),
    ("${PATHLIKE#*/}", "usr/local/bin.tar.gz"),
    ("${PATHLIKE##*/}", "bin.tar.gz"),
    ("${PATHLIKE%.*}", "/usr/local/bin.tar"),
    ("${PATHLIKE%%.*}", "/usr/local/bin"),
    ("${PATHLIKE/local/opt}", "/usr/opt/bin.tar.gz"),
    ("${PATHLIKE//\\//_}", "_usr_local_bin.tar.gz"),
    ("${PWD/o/0}", "/h0me"),
    ("a b  c", "a b  c"),
]


@pytest.mark.parametrize("word, expected", WORDS, ids=[w for w, _expected in WORDS])
def test_expand_table(word: str, expected: object) -> None:
    if expected is ERROR:
        with pytest.raises(LexError):
            expand(word, ENV)
    else:
        assert expand(word, ENV) == expected


def test_error_messages_are_one_line() -> None:
    with pytest.raises(InvalidArgument) as info:
        expand("a${b", {})
    assert str(info.value) == "failed to process \"a${b\": syntax error: missing '}'"
    with pytest.raises(InvalidArgument, match="^failed to process .*: X: must be set$"):
        expand("${X:?must be set}", {})


def test_backtick_escape() -> None:
    assert expand("a`$PWD b\\c", ENV, escape="`") == "a$PWD b\\c"
    assert expand('"x`"y"', ENV, escape="`") == 'x"y'


SPLITS = [
    ("hello", {}, ["hello"]),
    ("hello${hi}bye", {}, ["hellobye"]),
    ("hello${hi}bye", {"hi": "hi"}, ["hellohibye"]),
    ("hello${space}bye", {"space": "abc  def"}, ["helloabc", "defbye"]),
    ('hello"${space}"bye', {"space": "abc  def"}, ["helloabc  defbye"]),
    ('hello "${space}"bye', {"space": "abc  def"}, ["hello", "abc  defbye"]),
    ("hello${leading}def", {"leading": "  ab c"}, ["hello", "ab", "cdef"]),
    ('hello"${leading}" def', {"leading": "  ab c"}, ["hello  ab c", "def"]),
    ('hello"ab\\"c"', {}, ['helloab"c']),
    ('a "" b', {}, ["a", "b"]),
    ("  80  443/udp ", {}, ["80", "443/udp"]),
]


@pytest.mark.parametrize("text, env, expected", SPLITS)
def test_split_words(text: str, env: dict, expected: list) -> None:
    assert split_words(text, env) == expected


def test_substitution_table() -> None:
    assert SUBSTITUTED == {"ADD", "ARG", "COPY", "ENV", "EXPOSE", "FROM", "LABEL", "STOPSIGNAL",
                           "USER", "VOLUME", "WORKDIR"}


DF = parse(
    "FROM $IMG:${TAG:-latest}\n"                                    # 1
    "ENV A=$X B=\"$X and $Y\" C='$X' D=a\\ b\n"                     # 2
    "ENV OLD  $X  \"q\"\n"                                          # 3
    "LABEL \"$X.key\"=\"v $Y\"\n"                                   # 4
    "ARG N=${X}-${Z:-z} M\n"                                        # 5
    "EXPOSE $PORTS 22\n"                                            # 6
    "COPY --from=$X --chown=${U}:${U} --chmod=$M src/$X \"$Y\" /dst/$X/\n"  # 7
    "COPY <<EOF <<'RAW' /etc/\n$X \"$Y\" \\$X\nEOF\n$X\nRAW\n"      # 8-12
    "ADD --checksum=$SUM $URL /a\n"                                 # 13
    "WORKDIR /srv/$X app\n"                                         # 14
    "USER ${U}:${U}\n"                                              # 15
    "VOLUME $X /v/$Y\n"                                             # 16
    "STOPSIGNAL $SIG\n"                                             # 17
    "RUN --mount=type=cache,target=/c/$X echo $X\n"                 # 18
    "CMD echo $X\n"                                                 # 19
    "ENTRYPOINT [\"$X\"]\n"                                         # 20
    "HEALTHCHECK CMD test $X\n"                                     # 21
    "ONBUILD COPY $X /x\n"                                          # 22
    "SHELL [\"/bin/$X\"]\n"                                         # 23
    "MAINTAINER $X\n"                                               # 24
)
SCOPE = {"IMG": "busybox", "X": "ex", "Y": "why", "U": "1000", "M": "0644", "PORTS": "80 53/udp",
         "SUM": "sha256:00", "URL": "https://h/f", "SIG": "SIGINT"}


def expanded(line: int):
    instr = next(i for i in DF.instructions if i.line == line)
    return expand_instruction(instr, SCOPE)


def test_expand_from() -> None:
    assert expanded(1).image == "busybox:latest"


def test_expand_env_pairs_and_quotes() -> None:
    assert expanded(2).pairs == (("A", "ex"), ("B", "ex and why"), ("C", "$X"), ("D", "a b"))
    assert expanded(3).pairs == (("OLD", "ex  q"),)
    assert expanded(4).pairs == (("ex.key", "v why"),)


def test_expand_arg() -> None:
    assert expanded(5).args == (ArgDef("N", "ex-z"), ArgDef("M", None))


def test_expand_expose_splits_words() -> None:
    assert expanded(6).ports == ("80", "53/udp", "22")


def test_expand_copy() -> None:
    copy = expanded(7)
    assert (copy.from_, copy.chown, copy.chmod) == ("ex", "1000:1000", "0644")
    assert copy.sources == ("src/ex", "why")
    assert copy.dest == "/dst/ex/"


def test_expand_heredoc_sources_only_when_unquoted() -> None:
    copy = expanded(8)
    assert copy.inline == (InlineFile("EOF", 'ex "why" $X\n', True),
                           InlineFile("RAW", "$X\n", False))


def test_expand_add_workdir_user_volume_stopsignal() -> None:
    add = expanded(13)
    assert (add.checksum, add.sources, add.dest) == ("sha256:00", ("https://h/f",), "/a")
    assert expanded(14).path == "/srv/ex app"
    assert expanded(15).user == "1000:1000"
    assert expanded(16).paths == ("ex", "/v/why")
    assert expanded(17).signal == "SIGINT"


def test_run_expands_mount_flags_but_not_the_command() -> None:
    run = expanded(18)
    assert run.mounts == ("type=cache,target=/c/ex",)
    assert run.args == ("echo $X",)


@pytest.mark.parametrize("line", [19, 20, 21, 22, 23, 24])
def test_not_substituted(line: int) -> None:
    instr = next(i for i in DF.instructions if i.line == line)
    assert expand_instruction(instr, SCOPE) is instr


def test_expand_instruction_error_has_line() -> None:
    df = parse("FROM busybox\nWORKDIR /a\nUSER ${U\n")
    with pytest.raises(InvalidArgument) as info:
        expand_instruction(df.instructions[2], {})
    assert str(info.value) == ("Dockerfile:3: USER: failed to process \"${U\": "
                               "syntax error: missing '}'")
    df = parse("FROM busybox\nCOPY <<EOF /x\n${A\nEOF\n")
    with pytest.raises(InvalidArgument) as info:
        expand_instruction(df.instructions[1], {}, filename="ctx/Dockerfile")
    assert str(info.value) == ("ctx/Dockerfile:2: COPY: failed to process \"${A\\n\": "
                               "unsupported modifier (\\n) in substitution")


def test_escape_token_applies_to_expansion() -> None:
    df = parse("# escape=`\nFROM busybox\nWORKDIR C:\\app\\`$X\n")
    assert expand_instruction(df.instructions[1], SCOPE, df.escape).path == "C:\\app\\$X"
