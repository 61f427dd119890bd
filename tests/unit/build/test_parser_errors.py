"""Dockerfiles that must be rejected, with the exact one-line error (file, line, keyword)."""
from __future__ import annotations

import pytest

from berth.build import parse, parse_trigger
from berth.errors import InvalidArgument

F = "FROM busybox\n"

NEGATIVE = [
    ("unknown-instruction", F + "\nFOO bar\n", "Dockerfile:3: FOO: unknown instruction: FOO"),
    ("unknown-flag", F + "RUN --foo=bar make\n", "Dockerfile:2: RUN: unknown flag: foo"),
    ("flag-on-cmd", F + "CMD --help\n", "Dockerfile:2: CMD: unknown flag: help"),
    ("copy-flag-on-add", F + "ADD --from=x a b\n", "Dockerfile:2: ADD: unknown flag: from"),
    ("copy-missing-dest", F + "COPY onlyone\n",
     "Dockerfile:2: COPY: COPY requires at least two arguments, but only one was provided. "
     "Destination could not be determined"),
    ("duplicate-flag", F + "COPY --chown=a --chown=b x y\n",
     "Dockerfile:2: COPY: Duplicate flag specified: chown"),
    ("flag-missing-value", F + "COPY --from x y\n",
     "Dockerfile:2: COPY: Missing a value on flag: from"),
    ("bad-bool-flag", F + "COPY --link=maybe x y\n",
     "Dockerfile:2: COPY: expecting boolean value for flag link, not: maybe"),
    ("bad-network", F + "RUN --network=bridge true\n",
     'Dockerfile:2: RUN: unsupported network mode "bridge"'),
    ("from-two-args", "FROM busybox as\n",
     "Dockerfile:1: FROM: FROM requires either one or three arguments"),
    ("from-bad-stage-name", "FROM busybox AS 1st\n",
     'Dockerfile:1: FROM: invalid name for build stage: "1st", name can\'t start with a number '
     "or contain symbols"),
    ("duplicate-stage", "FROM busybox AS a\nRUN x\nFROM busybox AS A\n",
     'Dockerfile:3: FROM: duplicate stage name "a"'),
    ("instruction-before-from", "ARG A\n# c\nRUN true\nFROM busybox\n",
     "Dockerfile:3: RUN: no build stage in current context"),
    ("only-args", "ARG A\n", "Dockerfile: dockerfile contains no stages to build"),
    ("empty-file", "# just a comment\n\n", "Dockerfile:2: file with no instructions"),
    ("json-non-string", F + 'CMD ["a", 1]\n',
     "Dockerfile:2: CMD: when using JSON array syntax, arrays must be comprised of strings only"),
    ("shell-not-json", F + "SHELL /bin/bash -c\n",
     "Dockerfile:2: SHELL: SHELL requires the arguments to be in JSON form"),
    ("shell-empty-json", F + "SHELL []\n",
     "Dockerfile:2: SHELL: SHELL requires at least one argument"),
    ("run-empty", F + "RUN\n", "Dockerfile:2: RUN: RUN requires at least one argument"),
    ("env-one-word", F + "ENV ONLYKEY\n", "Dockerfile:2: ENV: ENV must have two arguments"),
    ("env-mixed", F + "ENV a=1 b\n",
     'Dockerfile:2: ENV: Syntax error - can\'t find = in "b". Must be of the form: name=value'),
    ("env-blank-name", F + "ENV =x\n", "Dockerfile:2: ENV: ENV names can not be blank"),
    ("label-empty", F + "LABEL\n", "Dockerfile:2: LABEL: LABEL requires at least one argument"),
    ("arg-blank-name", F + "ARG =1\n", "Dockerfile:2: ARG: ARG names can not be blank"),
    ("workdir-empty", F + "WORKDIR\n",
     "Dockerfile:2: WORKDIR: WORKDIR requires exactly one argument"),
    ("volume-empty-string", F + 'VOLUME ["/a", " "]\n',
     "Dockerfile:2: VOLUME: VOLUME specified can not be an empty string"),
    ("expose-empty", F + "EXPOSE\n", "Dockerfile:2: EXPOSE: EXPOSE requires at least one argument"),
    ("onbuild-onbuild", F + "ONBUILD ONBUILD RUN x\n",
     "Dockerfile:2: ONBUILD: Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
    ("onbuild-from", F + "ONBUILD FROM busybox\n",
     "Dockerfile:2: ONBUILD: FROM isn't allowed as an ONBUILD trigger"),
    ("onbuild-maintainer", F + "ONBUILD maintainer me\n",
     "Dockerfile:2: ONBUILD: MAINTAINER isn't allowed as an ONBUILD trigger"),
    ("onbuild-unknown", F + "ONBUILD BOGUS x\n",
     "Dockerfile:2: ONBUILD: unknown instruction: BOGUS"),
    ("onbuild-bad-inner-flag", F + "ONBUILD COPY --nope a b\n",
     "Dockerfile:2: ONBUILD: unknown flag: nope"),
    ("healthcheck-none-args", F + "HEALTHCHECK NONE x\n",
     "Dockerfile:2: HEALTHCHECK: HEALTHCHECK NONE takes no arguments"),
    ("healthcheck-none-flags", F + "HEALTHCHECK --interval=5s NONE\n",
     "Dockerfile:2: HEALTHCHECK: HEALTHCHECK NONE takes no arguments"),
    ("healthcheck-type", F + "HEALTHCHECK RUN x\n",
     'Dockerfile:2: HEALTHCHECK: Unknown type "RUN" in HEALTHCHECK (try CMD)'),
    ("healthcheck-no-cmd", F + "HEALTHCHECK CMD\n",
     "Dockerfile:2: HEALTHCHECK: Missing command after HEALTHCHECK CMD"),
    ("healthcheck-bad-duration", F + "HEALTHCHECK --interval=5 CMD x\n",
     'Dockerfile:2: HEALTHCHECK: time: missing unit in duration "5"'),
    ("healthcheck-bad-unit", F + "HEALTHCHECK --timeout=5d CMD x\n",
     'Dockerfile:2: HEALTHCHECK: time: unknown unit "d" in duration "5d"'),
    ("healthcheck-too-short", F + "HEALTHCHECK --start-period=10us CMD x\n",
     'Dockerfile:2: HEALTHCHECK: Interval "start-period" cannot be less than 1ms'),
    ("healthcheck-negative-retries", F + "HEALTHCHECK --retries=-1 CMD x\n",
     "Dockerfile:2: HEALTHCHECK: --retries cannot be negative (-1)"),
    ("heredoc-unterminated", F + "RUN <<EOF\necho\nEOT\n",
     "Dockerfile:2: RUN: unterminated heredoc"),
    ("heredoc-as-destination", F + "COPY a <<EOF\nx\nEOF\n",
     "Dockerfile:2: COPY: COPY cannot accept a heredoc as a destination"),
    ("duplicate-directive", "# escape=`\n# escape=\\\nFROM busybox\n",
     "Dockerfile:2: only one escape parser directive can be used"),
    ("bad-escape-directive", "# escape=x\nFROM busybox\n",
     "Dockerfile:1: invalid escape token 'x' does not match ` or \\"),
    ("error-after-continuation-reports-start", F + "RUN ok\nCOPY \\\n  --chown=1 \\\n  onlyone\n",
     "Dockerfile:3: COPY: COPY requires at least two arguments, but only one was provided. "
     "Destination could not be determined"),
    ("error-after-heredoc-counts-lines", F + "RUN <<EOF\na\nb\nEOF\nNOPE\n",
     "Dockerfile:6: NOPE: unknown instruction: NOPE"),
]


@pytest.mark.parametrize("text, message", [(t, m) for _name, t, m in NEGATIVE],
                         ids=[n for n, _text, _message in NEGATIVE])
def test_rejected_with_exact_line(text: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse(text)
    assert str(info.value) == message
    assert "\n" not in str(info.value)


def test_filename_is_used_in_errors() -> None:
    with pytest.raises(InvalidArgument, match=r"^build/Containerfile:2: RUN: unknown flag: x$"):
        parse(F + "RUN --x=1 y\n", filename="build/Containerfile")


def test_parse_trigger() -> None:
    run = parse_trigger("RUN make install")
    assert run.keyword == "RUN" and run.args == ("make install",)
    with pytest.raises(InvalidArgument, match="FROM isn't allowed as an ONBUILD trigger"):
        parse_trigger("FROM busybox")
