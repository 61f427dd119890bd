from __future__ import annotations

import pytest

from berth.build.changes import apply_changes
from berth.errors import InvalidArgument


def test_changes_apply_like_docker_commit() -> None:
    config = apply_changes({"Env": ["PATH=/bin", "A=1"], "WorkingDir": "/srv"}, [
        'CMD ["httpd", "-f"]', "ENV A=2 C=$A", "EXPOSE 80 53/udp", "WORKDIR www", "LABEL team=web",
        "USER nobody", "VOLUME /data", "STOPSIGNAL SIGQUIT", "ONBUILD RUN echo hi",
        "ENTRYPOINT /bin/sh"])
    assert config["Env"] == ["PATH=/bin", "A=2", "C=1"]  # redefined in place; $A seen before
    assert config["Cmd"] == ["httpd", "-f"]
    assert config["Entrypoint"] == ["/bin/sh", "-c", "/bin/sh"]
    assert config["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert config["WorkingDir"] == "/srv/www"
    assert config["Labels"] == {"team": "web"}
    assert config["User"] == "nobody"
    assert config["Volumes"] == {"/data": {}}
    assert config["StopSignal"] == "SIGQUIT"
    assert config["OnBuild"] == ["RUN echo hi"]


@pytest.mark.parametrize("change, message", [
    ("RUN make", "RUN is not a valid change command"),
    ("FROM busybox", "FROM is not a valid change command"),
    ("FROB x", "unknown instruction"),
    ("CMD a\nCMD b", "exactly one instruction"),
    ("ENV", "requires at least one argument"),
])
def test_bad_changes_fail_with_one_line(change: str, message: str) -> None:
    with pytest.raises(InvalidArgument, match=message) as err:
        apply_changes({}, [change])
    assert "\n" not in str(err.value)
