"""History strings, Healthcheck config and EXPOSE port specs as Docker records them."""
from __future__ import annotations

import pytest

from berth.build import created_by, expand_instruction, parse
from berth.build.instructions import go_duration
from berth.errors import InvalidArgument

DF = parse(
    "FROM busybox\n"                                                    # 1
    "RUN make install\n"                                                # 2
    'RUN ["echo", "hi"]\n'                                              # 3
    "CMD echo hi\n"                                                     # 4
    'ENTRYPOINT ["/app", "-x"]\n'                                       # 5
    'ENV A=1 B="v 2"\n'                                                 # 6
    'LABEL maintainer="me" version=2\n'                                 # 7
    "EXPOSE 80 53/udp\n"                                                # 8
    "VOLUME /data /logs\n"                                              # 9
    "WORKDIR /srv\n"                                                    # 10
    "USER app\n"                                                        # 11
    "STOPSIGNAL SIGQUIT\n"                                              # 12
    'SHELL ["/bin/bash", "-c"]\n'                                       # 13
    "ONBUILD RUN make\n"                                                # 14
    "MAINTAINER me@example.com\n"                                       # 15
    "ARG X=1 Y\n"                                                       # 16
    "HEALTHCHECK --interval=5m --timeout=3s CMD curl -f http://localhost/ || exit 1\n"  # 17
    "HEALTHCHECK NONE\n"                                                # 18
    "COPY a /b\n"                                                       # 19
)
NOP = "/bin/sh -c #(nop)  "


def at(line: int):
    instr = next(i for i in DF.instructions if i.line == line)
    return expand_instruction(instr, {})


@pytest.mark.parametrize("line, expected", [
    (2, "/bin/sh -c make install"),
    (3, "echo hi"),
    (4, NOP + 'CMD ["/bin/sh" "-c" "echo hi"]'),
    (5, NOP + 'ENTRYPOINT ["/app" "-x"]'),
    (6, NOP + "ENV A=1 B=v 2"),
    (7, NOP + "LABEL maintainer=me version=2"),
    (8, NOP + "EXPOSE 53/udp 80"),
    (9, NOP + "VOLUME [/data /logs]"),
    (10, NOP + "WORKDIR /srv"),
    (11, NOP + "USER app"),
    (12, NOP + "STOPSIGNAL SIGQUIT"),
    (13, NOP + "SHELL [/bin/bash -c]"),
    (14, NOP + "ONBUILD RUN make"),
    (15, NOP + "MAINTAINER me@example.com"),
    (16, NOP + "ARG X=1 Y"),
    (17, NOP + 'HEALTHCHECK &{["CMD-SHELL" "curl -f http://localhost/ || exit 1"] '
     '"5m0s" "3s" "0s" "0s" \'\\x00\'}'),
    (18, NOP + 'HEALTHCHECK &{["NONE"] "0s" "0s" "0s" "0s" \'\\x00\'}'),
])
def test_created_by(line: int, expected: str) -> None:
    assert created_by(at(line)) == expected


def test_created_by_uses_current_shell_and_build_args() -> None:
    bash = ["/bin/bash", "-c"]
    assert created_by(at(2), bash, ["B=2", "A=1"]) == "|2 A=1 B=2 /bin/bash -c make install"
    assert created_by(at(4), bash) == '/bin/bash -c #(nop)  CMD ["/bin/bash" "-c" "echo hi"]'


def test_created_by_copy_uses_builder_source_description() -> None:
    assert created_by(at(19), source="file:abc in /b ") == NOP + "COPY file:abc in /b "


def test_healthcheck_config_in_nanoseconds() -> None:
    assert at(17).config() == {"Test": ["CMD-SHELL", "curl -f http://localhost/ || exit 1"],
                               "Interval": 300_000_000_000, "Timeout": 3_000_000_000}
    assert at(18).config() == {"Test": ["NONE"]}
    hc = parse("FROM x\nHEALTHCHECK --retries=3 --start-interval=2s CMD [\"a\"]\n")
    assert hc.instructions[1].config() == {"Test": ["CMD", "a"], "StartInterval": 2_000_000_000,
                                           "Retries": 3}


@pytest.mark.parametrize("ns, text", [
    (0, "0s"), (1, "1ns"), (1500, "1.5µs"), (500_000_000, "500ms"), (1_500_000_000, "1.5s"),
    (90_000_000_000, "1m30s"), (3_600_000_000_000, "1h0m0s"), (3_723_500_000_000, "1h2m3.5s"),
])
def test_go_duration(ns: int, text: str) -> None:
    assert go_duration(ns) == text


def test_expose_port_specs() -> None:
    df = parse("FROM x\nEXPOSE 8000-8002 53/UDP 443/tcp 80 80/tcp 9/sctp\n")
    assert df.instructions[1].port_specs() == [
        "9/sctp", "80/tcp", "443/tcp", "8000/tcp", "8001/tcp", "8002/tcp", "53/udp"]


@pytest.mark.parametrize("word, message", [
    ("80/icmp", "Dockerfile:2: EXPOSE: invalid proto: icmp"),
    ("http", "Dockerfile:2: EXPOSE: invalid containerPort: http"),
    ("90-80", "Dockerfile:2: EXPOSE: invalid range specified for container port: 90-80"),
])
def test_expose_rejects_bad_ports(word: str, message: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        parse("FROM x\nEXPOSE %s\n" % word).instructions[1].port_specs()
    assert str(info.value) == message
