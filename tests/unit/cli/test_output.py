from __future__ import annotations

import io

import pytest

from berth.cli import output


@pytest.mark.parametrize("size, text", [(0, "0B"), (999, "999B"), (1000, "1kB"), (4_260_000, "4.26MB"),
                                        (1_234_567_890, "1.235GB")])
def test_human_size_uses_decimal_units(size: int, text: str) -> None:
    assert output.human_size(size) == text


@pytest.mark.parametrize("seconds, text", [(0.2, "Less than a second"), (1, "1 second"), (59, "59 seconds"),
                                           (60, "About a minute"), (3600, "About an hour"),
                                           (3 * 86400, "3 days"), (20 * 86400, "2 weeks")])
def test_human_duration(seconds: float, text: str) -> None:
    assert output.human_duration(seconds) == text


def test_templates() -> None:
    doc = {"Id": "x", "Config": {"Env": ["A=1"], "Labels": {"b": "2"}}, "On": True}
    assert output.render("{{.Id}}\\t{{json .Config.Env}} {{.Config.Labels}} {{.On}} {{.Nope}}", doc) == \
        'x\t["A=1"] map[b:2] true <no value>'


def test_table_format_with_headers() -> None:
    out = io.StringIO()
    output.emit([{"Repository": "busybox", "Tag": "latest"}], "table {{.Repository}}\\t{{.Tag}}",
                ((), ()), out)
    lines = out.getvalue().splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG"]
    assert lines[1].split() == ["busybox", "latest"]
