"""A corpus of Dockerfiles and the exact instructions the parser must produce for each."""
from __future__ import annotations

from typing import Any, Dict, List, Tuple

import pytest

from berth.build import instructions as ins
from berth.build import parse
from berth.build.instructions import ArgDef, Heredoc, InlineFile

Expected = List[Tuple[int, type, Dict[str, Any]]]

CORPUS: List[Tuple[str, str, Expected]] = [
    ("from-plain", "FROM busybox\n",
     [(1, ins.From, dict(image="busybox", name=None, platform=None))]),
    ("from-as-lowercased", "from busybox:1.36 As Builder\n",
     [(1, ins.From, dict(image="busybox:1.36", name="builder"))]),
    ("from-platform", "FROM --platform=$BUILDPLATFORM golang:1.22 AS build\n",
     [(1, ins.From, dict(image="golang:1.22", name="build", platform="$BUILDPLATFORM"))]),
    ("from-scratch", "FROM scratch\nCOPY app /\n",
     [(1, ins.From, dict(image="scratch")), (2, ins.Copy, dict(sources=("app",), dest="/"))]),
    ("global-args", "ARG VERSION=1.36\nARG REGISTRY\nFROM ${REGISTRY}busybox:${VERSION}\n",
     [(1, ins.Arg, dict(args=(ArgDef("VERSION", "1.36"),))),
      (2, ins.Arg, dict(args=(ArgDef("REGISTRY", None),))),
      (3, ins.From, dict(image="${REGISTRY}busybox:${VERSION}"))]),
    ("maintainer", "FROM busybox\nMAINTAINER Jane Doe <jane@example.com>\n",
     [(1, ins.From, {}), (2, ins.Maintainer, dict(maintainer="Jane Doe <jane@example.com>"))]),
    ("run-shell", "FROM busybox\nRUN echo hello   world\n",
     [(1, ins.From, {}), (2, ins.Run, dict(args=("echo hello   world",), exec_form=False))]),
    ("run-exec", 'FROM busybox\nRUN ["echo", "a b", "\\u00e9"]\n',
     [(1, ins.From, {}), (2, ins.Run, dict(args=("echo", "a b", "\u00e9"), exec_form=True))]),
    ("run-invalid-json-is-shell", "FROM busybox\nRUN [ -f /etc/passwd ] && echo ok\n",
     [(1, ins.From, {}),
      (2, ins.Run, dict(args=("[ -f /etc/passwd ] && echo ok",), exec_form=False))]),
    ("run-flags", "FROM busybox\nRUN --mount=type=cache,target=/root/.cache "
     "--mount=type=tmpfs,target=/tmp --network=none make\n",
     [(1, ins.From, {}),
      (2, ins.Run, dict(args=("make",), mounts=("type=cache,target=/root/.cache",
                                                "type=tmpfs,target=/tmp"), network="none"))]),
    ("run-flag-quoted", 'FROM busybox\nRUN --mount="type=bind,source=a b" ls\n',
     [(1, ins.From, {}), (2, ins.Run, dict(args=("ls",), mounts=("type=bind,source=a b",)))]),
    ("case-insensitive", "fRoM busybox\nrUn true\nCmD [\"sh\"]\n",
     [(1, ins.From, {}), (2, ins.Run, dict(args=("true",))),
      (3, ins.Cmd, dict(args=("sh",), exec_form=True))]),
    ("continuation", "FROM busybox\nRUN apt-get update && \\\n    apt-get install -y \\\n"
     "      curl\n",
     [(1, ins.From, {}),
      (2, ins.Run, dict(args=("apt-get update &&     apt-get install -y       curl",),
                        end_line=4))]),
    ("continuation-comments-and-blanks", "FROM busybox\nRUN echo a \\\n# inside\n"
     "   # indented comment\n\n  b\nCMD x\n",
     [(1, ins.From, {}), (2, ins.Run, dict(args=("echo a   b",), end_line=6)),
      (7, ins.Cmd, dict(args=("x",)))]),
    ("continuation-trailing-space", "FROM busybox\nRUN echo a \\   \n b\n",
     [(1, ins.From, {}), (2, ins.Run, dict(args=("echo a  b",), end_line=3))]),
    ("escaped-escape-is-not-continuation", "FROM busybox\nRUN echo a\\\\\nCMD b\n",
     [(1, ins.From, {}), (2, ins.Run, dict(args=("echo a\\\\",))),
      (3, ins.Cmd, dict(args=("b",)))]),
    ("comments-and-indent", "# a comment\n\n   FROM busybox\n\t# tabbed comment\n"
     "  RUN true # not a comment\n",
     [(3, ins.From, {}), (5, ins.Run, dict(args=("true # not a comment",)))]),
    ("escape-backtick", "# escape=`\nFROM busybox\nRUN dir c:\\ `\n  && echo ok\n",
     [(2, ins.From, {}), (3, ins.Run, dict(args=("dir c:\\   && echo ok",), end_line=4))]),
    ("escape-backslash-explicit", "#escape=\\\nFROM busybox\nRUN a \\\n b\n",
     [(2, ins.From, {}), (3, ins.Run, dict(args=("a  b",), end_line=4))]),
    ("directive-after-comment-is-comment", "# hello\n# escape=`\nFROM busybox\nRUN a \\\n b\n",
     [(3, ins.From, {}), (4, ins.Run, dict(args=("a  b",), end_line=5))]),
    ("syntax-and-check-directives", "# syntax=docker/dockerfile:1\n# check=skip=all\n"
     "# escape=`\nFROM busybox\nRUN a `\n b\n",
     [(4, ins.From, {}), (5, ins.Run, dict(args=("a  b",), end_line=6))]),
    ("bom", "\ufeffFROM busybox\n", [(1, ins.From, dict(image="busybox"))]),
    ("directive-after-blank-line-is-comment", "\n# escape=`\nFROM busybox\nRUN a `\n",
     [(3, ins.From, {}), (4, ins.Run, dict(args=("a `",)))]),
    ("unknown-directive-ends-directives", "# foo=bar\n# escape=`\nFROM busybox\nRUN a `\n",
     [(3, ins.From, {}), (4, ins.Run, dict(args=("a `",)))]),
    ("crlf", "FROM busybox\r\nRUN a \\\r\n  b\r\nCMD c\r\n",
     [(1, ins.From, {}), (2, ins.Run, dict(args=("a   b",), end_line=3)),
      (4, ins.Cmd, dict(args=("c",)))]),
    ("cmd-entrypoint", 'FROM busybox\nENTRYPOINT ["/bin/app", "--flag"]\nCMD -h --verbose\n',
     [(1, ins.From, {}),
      (2, ins.Entrypoint, dict(args=("/bin/app", "--flag"), exec_form=True)),
      (3, ins.Cmd, dict(args=("-h --verbose",), exec_form=False))]),
    ("cmd-empty-json", "FROM busybox\nENTRYPOINT []\nCMD []\n",
     [(1, ins.From, {}), (2, ins.Entrypoint, dict(args=(), exec_form=True)),
      (3, ins.Cmd, dict(args=(), exec_form=True))]),
    ("shell", 'FROM busybox\nSHELL ["/bin/bash", "-o", "pipefail", "-c"]\n',
     [(1, ins.From, {}), (2, ins.Shell, dict(shell=("/bin/bash", "-o", "pipefail", "-c")))]),
    ("env-old-form", "FROM busybox\nENV PATH /usr/local/bin:$PATH\nENV MSG hello  \"big\" world\n",
     [(1, ins.From, {}), (2, ins.Env, dict(pairs=(("PATH", "/usr/local/bin:$PATH"),))),
      (3, ins.Env, dict(pairs=(("MSG", 'hello  "big" world'),)))]),
    ("env-new-form", "FROM busybox\nENV A=1 B=\"v 2\" C='x y' D=a\\ b E=\n",
     [(1, ins.From, {}),
      (2, ins.Env, dict(pairs=(("A", "1"), ("B", '"v 2"'), ("C", "'x y'"), ("D", "a\\ b"),
                               ("E", ""))))]),
    ("env-continued", "FROM busybox\nENV A=1 \\\n    B=2\n",
     [(1, ins.From, {}), (2, ins.Env, dict(pairs=(("A", "1"), ("B", "2")), end_line=3))]),
    ("label", 'FROM busybox\nLABEL "com.example.vendor"="ACME Inc" version=1.0 '
     'description="multi\\\nline"\n',
     [(1, ins.From, {}),
      (2, ins.Label, dict(pairs=(('"com.example.vendor"', '"ACME Inc"'), ("version", "1.0"),
                                 ("description", '"multiline"')), end_line=3))]),
    ("arg-forms", "FROM busybox\nARG A\nARG B=2 C=\"x y\" D=\n",
     [(1, ins.From, {}), (2, ins.Arg, dict(args=(ArgDef("A"),))),
      (3, ins.Arg, dict(args=(ArgDef("B", "2"), ArgDef("C", '"x y"'), ArgDef("D", ""))))]),
    ("expose", "FROM busybox\nEXPOSE 80 443/tcp 53/udp 8000-8010 $PORT\n",
     [(1, ins.From, {}),
      (2, ins.Expose, dict(ports=("$PORT", "443/tcp", "53/udp", "80", "8000-8010")))]),
    ("copy-forms", 'FROM busybox\nCOPY a b /dst/\nCOPY ["with space", "/d st/"]\n',
     [(1, ins.From, {}),
      (2, ins.Copy, dict(sources=("a", "b"), dest="/dst/", exec_form=False)),
      (3, ins.Copy, dict(sources=("with space",), dest="/d st/", exec_form=True))]),
    ("copy-flags", "FROM busybox AS a\nFROM busybox\nCOPY --from=a --chown=app:app "
     "--chmod=0755 --link --exclude=*.md --exclude=tmp /src /dst\n",
     [(1, ins.From, dict(name="a")), (2, ins.From, {}),
      (3, ins.Copy, dict(from_="a", chown="app:app", chmod="0755", link=True,
                         exclude=("*.md", "tmp"), sources=("/src",), dest="/dst"))]),
    ("copy-link-false", "FROM busybox\nCOPY --link=false a /b\n",
     [(1, ins.From, {}), (2, ins.Copy, dict(link=False))]),
    ("add-flags", "FROM busybox\nADD --checksum=sha256:abc --keep-git-dir=true --chown=1 "
     "https://example.com/x.tgz /x/\n",
     [(1, ins.From, {}),
      (2, ins.Add, dict(checksum="sha256:abc", keep_git_dir=True, chown="1",
                        sources=("https://example.com/x.tgz",), dest="/x/"))]),
    ("workdir-user-stopsignal", "FROM busybox\nWORKDIR /my app\nUSER 1000:1000\n"
     "STOPSIGNAL SIGTERM\n",
     [(1, ins.From, {}), (2, ins.Workdir, dict(path="/my app")),
      (3, ins.User, dict(user="1000:1000")), (4, ins.StopSignal, dict(signal="SIGTERM"))]),
    ("volume", 'FROM busybox\nVOLUME /data /logs\nVOLUME ["/var/lib/x"]\n',
     [(1, ins.From, {}), (2, ins.Volume, dict(paths=("/data", "/logs"), exec_form=False)),
      (3, ins.Volume, dict(paths=("/var/lib/x",), exec_form=True))]),
    ("healthcheck-shell", "FROM busybox\nHEALTHCHECK --interval=5m --timeout=3s "
     "--start-period=1m30s --start-interval=500ms --retries=4 CMD curl -f http://localhost/ "
     "|| exit 1\n",
     [(1, ins.From, {}),
      (2, ins.Healthcheck, dict(test=("CMD-SHELL", "curl -f http://localhost/ || exit 1"),
                                interval=300 * 10**9, timeout=3 * 10**9,
                                start_period=90 * 10**9, start_interval=500 * 10**6,
                                retries=4))]),
    ("healthcheck-exec-and-none", 'FROM busybox\nHEALTHCHECK cmd ["/bin/check", "-q"]\n'
     "HEALTHCHECK none\n",
     [(1, ins.From, {}),
      (2, ins.Healthcheck, dict(test=("CMD", "/bin/check", "-q"), interval=0, retries=0)),
      (3, ins.Healthcheck, dict(test=("NONE",)))]),
    ("healthcheck-fractional", "FROM busybox\nHEALTHCHECK --interval=1.5s --timeout=0 CMD x\n",
     [(1, ins.From, {}),
      (2, ins.Healthcheck, dict(interval=1_500_000_000, timeout=0))]),
    ("onbuild", "FROM busybox\nONBUILD ADD . /app/src\nonbuild RUN --mount=type=cache,"
     "target=/c make\n",
     [(1, ins.From, {}),
      (2, ins.OnBuild, dict(expression="ADD . /app/src")),
      (3, ins.OnBuild, dict(expression="RUN --mount=type=cache,target=/c make"))]),
    ("heredoc-run", "FROM busybox\nRUN <<EOF\napk add curl\necho done\nEOF\nCMD x\n",
     [(1, ins.From, {}),
      (2, ins.Run, dict(args=("<<EOF",), end_line=5,
                        heredocs=(Heredoc("EOF", "apk add curl\necho done\n"),))),
      (6, ins.Cmd, dict(args=("x",)))]),
    ("heredoc-chomp", "FROM busybox\nRUN <<-EOT\n\techo $HOME\n\t\tindented\n\tEOT\n",
     [(1, ins.From, {}),
      (2, ins.Run, dict(heredocs=(Heredoc("EOT", "\techo $HOME\n\t\tindented\n", True, True),),
                        end_line=5))]),
    ("heredoc-several-on-one-line", "FROM busybox\nRUN cat <<A > /a && cat <<\"B\" > /b\n"
     "one\nA\ntwo $x\nB\n",
     [(1, ins.From, {}),
      (2, ins.Run, dict(args=('cat <<A > /a && cat <<"B" > /b',), end_line=6,
                        heredocs=(Heredoc("A", "one\n"), Heredoc("B", "two $x\n", False))))]),
    ("heredoc-fd-and-interpreter", "FROM busybox\nRUN python3 3<<'PY'\nprint(1)\nPY\n",
     [(1, ins.From, {}),
      (2, ins.Run, dict(heredocs=(Heredoc("PY", "print(1)\n", False, False, 3),), end_line=4))]),
    ("heredoc-copy", "FROM busybox\nCOPY --chmod=0755 <<one.sh <<-'two.sh' /usr/bin/\n"
     "#!/bin/sh\necho $A\none.sh\n\techo two\n\ttwo.sh\n",
     [(1, ins.From, {}),
      (2, ins.Copy, dict(sources=(), dest="/usr/bin/", chmod="0755", end_line=7,
                         inline=(InlineFile("one.sh", "#!/bin/sh\necho $A\n", True),
                                 InlineFile("two.sh", "echo two\n", False))))]),
    ("heredoc-not-in-json-run", 'FROM busybox\nRUN ["cat", "<<EOF"]\nCMD x\n',
     [(1, ins.From, {}), (2, ins.Run, dict(args=("cat", "<<EOF"), heredocs=())),
      (3, ins.Cmd, {})]),
    ("heredoc-quoted-in-shell-is-not-heredoc", "FROM busybox\nRUN echo '<<EOF'\nCMD x\n",
     [(1, ins.From, {}), (2, ins.Run, dict(heredocs=())), (3, ins.Cmd, {})]),
    ("heredoc-onbuild", "FROM busybox\nONBUILD RUN <<EOF\necho hi\nEOF\n",
     [(1, ins.From, {}), (2, ins.OnBuild, dict(expression="RUN <<EOF\necho hi\nEOF",
                                               end_line=4))]),
    ("multi-stage", "ARG X=1\nFROM busybox AS one\nRUN a\nFROM one AS two\nRUN b\nFROM scratch\n"
     "COPY --from=two /b /b\n",
     [(1, ins.Arg, {}), (2, ins.From, dict(name="one")), (3, ins.Run, {}),
      (4, ins.From, dict(image="one", name="two")), (5, ins.Run, {}),
      (6, ins.From, dict(image="scratch")), (7, ins.Copy, dict(from_="two"))]),
    ("no-trailing-newline", "FROM busybox\nCMD x", [(1, ins.From, {}), (2, ins.Cmd, {})]),
    ("double-dash-ends-flags", "FROM busybox\nRUN -- --not-a-flag\n",
     [(1, ins.From, {}), (2, ins.Run, dict(args=("--not-a-flag",)))]),
]


@pytest.mark.parametrize("text, expected", [(t, e) for _name, t, e in CORPUS],
                         ids=[name for name, _text, _expected in CORPUS])
def test_corpus(text: str, expected: Expected) -> None:
    df = parse(text)
    assert len(df.instructions) == len(expected), df.instructions
    for instr, (line, cls, fields) in zip(df.instructions, expected):
        assert isinstance(instr, cls)  # corpus classes are leaves: no subclass can pass
        assert instr.line == line
        fields = dict(fields)
        assert instr.end_line == fields.pop("end_line", line)
        for key, value in fields.items():
            assert getattr(instr, key) == value, (key, instr)


def test_corpus_is_large_enough() -> None:
    assert len(CORPUS) >= 40
    keywords = {cls.keyword for _name, _text, exp in CORPUS for _line, cls, _fields in exp}
    assert keywords == set(ins.BY_KEYWORD)


def test_original_text_and_directives() -> None:
    df = parse("# syntax=docker/dockerfile:1.7\n# ESCAPE = `\nFROM busybox\nRUN a `\n  b\n")
    assert df.escape == "`"
    assert df.directives == (("syntax", "docker/dockerfile:1.7"), ("escape", "`"))
    run = df.instructions[1]
    assert run.original == "RUN a   b"
    assert (run.line, run.end_line) == (4, 5)


def test_bytes_input_with_bom() -> None:
    df = parse(b"\xef\xbb\xbf# escape=`\nFROM busybox\n")
    assert df.escape == "`"
    assert df.instructions[0].line == 2


def test_empty_continuation_line_warns() -> None:
    df = parse("FROM busybox\nRUN a \\\n\n b\n")
    assert df.instructions[1].args == ("a  b",)
    assert df.warnings == ("Dockerfile:2: empty continuation line found in: RUN a  b",)


def test_stages_group_instructions() -> None:
    df = parse("ARG A=1\nARG B\nFROM busybox AS base\nENV X=1\nRUN a\n"
               "FROM base\nARG A\nRUN b\n")
    assert [a.args[0].name for a in df.global_args] == ["A", "B"]
    first, second = df.stages
    assert (first.index, first.name, first.from_.image) == (0, "base", "busybox")
    assert [i.keyword for i in first.instructions] == ["ENV", "RUN"]
    assert (second.index, second.name, second.from_.image) == (1, None, "base")
    assert [i.keyword for i in second.instructions] == ["ARG", "RUN"]
    assert df.stage("BASE") is not None and df.stage("base").index == 0
    assert df.stage(1).from_.line == 6


def test_onbuild_holds_parsed_trigger() -> None:
    df = parse("FROM busybox\nONBUILD COPY --chown=1:1 . /app\nONBUILD RUN <<EOF\nmake\nEOF\n")
    copy = df.instructions[1].trigger
    assert isinstance(copy, ins.Copy)
    assert (copy.sources, copy.dest, copy.chown, copy.original) == ((".",), "/app", "1:1",
                                                                    "COPY --chown=1:1 . /app")
    run = df.instructions[2].trigger
    assert isinstance(run, ins.Run)
    assert run.heredocs == (Heredoc("EOF", "make\n"),)
    assert run.argv() == ["/bin/sh", "-c", "make\n"]


def test_run_heredoc_argv_follows_buildkit() -> None:
    df = parse("FROM busybox\nRUN <<-EOF\n\techo a\n\tEOF\nRUN cat <<EOF > /f\nx\nEOF\n"
               "RUN <<EOF\n#!/usr/bin/env python3\nprint(1)\nEOF\n")
    script, reconstituted, shebang = df.instructions[1:]
    assert script.script == Heredoc("EOF", "\techo a\n", True, True)
    assert script.argv(["/bin/bash", "-c"]) == ["/bin/bash", "-c", "echo a\n"]
    assert reconstituted.script is None
    assert reconstituted.argv() == ["/bin/sh", "-c", "cat <<EOF > /f\nx\nEOF"]
    assert shebang.script.data.startswith("#!/usr/bin/env python3")
