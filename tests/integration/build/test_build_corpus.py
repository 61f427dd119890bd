"""A corpus of Dockerfiles, one per instruction and form: each builds on busybox and checks the
resulting image's config and files (read from its layers, or by running it)."""
from __future__ import annotations

import bz2
import io
import lzma
import stat
import tarfile
from typing import Any, Callable

import pytest
from build_helpers import BuildEnv, api_build


def tar_bytes(entries: dict, compress: str = "") -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            if data is None:
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
                continue
            info.size, info.mode, info.uid, info.gid = len(data), 0o640, 7, 8
            tar.addfile(info, io.BytesIO(data))
    data = raw.getvalue()
    if compress == "gz":
        import gzip
        return gzip.compress(data)
    if compress == "bz2":
        return bz2.compress(data)
    if compress == "xz":
        return lzma.compress(data)
    return data


Check = Callable[[BuildEnv, str, dict], None]
CASES: list = []


def case(name: str, dockerfile: str, files: Any = None, **options: Any) -> Callable[[Check], Check]:
    def wrap(check: Check) -> Check:
        CASES.append(pytest.param(dockerfile, files, options, check, id=name))
        return check
    return wrap


# -- FROM and MAINTAINER ---------------------------------------------------------------------

@case("from-tag-alone", "FROM busybox\n")
def check_from_tag_alone(env, image_id, cfg):
    assert image_id == env.busybox_id  # no step: the base image itself


@case("from-image-id", "FROM {busybox}\nLABEL x=1\n")
def check_from_image_id(env, image_id, cfg):
    assert env.image(image_id).parent == env.busybox_id
    assert cfg["Labels"] == {"x": "1"}


@case("from-platform-as-stage", """
    FROM --platform=linux/amd64 busybox AS base
    LABEL stage=base
    FROM base
    LABEL stage=final
    """)
def check_from_platform_as_stage(env, image_id, cfg):
    assert cfg["Labels"] == {"stage": "final"}
    assert env.config(env.image(image_id).parent)["Labels"] == {"stage": "base"}


@case("maintainer", "FROM busybox\nMAINTAINER Jane Doe <jane@example.com>\n")
def check_maintainer(env, image_id, cfg):
    image = env.image(image_id)
    assert image.config["author"] == "Jane Doe <jane@example.com>"
    assert image.config["history"][-1]["empty_layer"] is True


@case("scratch-copy", "FROM scratch\nCOPY a.txt /a.txt\n", {"a.txt": "A\n"})
def check_scratch_copy(env, image_id, cfg):
    image = env.image(image_id)
    assert len(image.layers) == 1 and image.parent is None
    assert env.read(image_id, "/a.txt") == "A\n"
    assert cfg["Env"][0].startswith("PATH=")  # Docker's default PATH for every stage


# -- RUN ------------------------------------------------------------------------------------

@case("run-shell-form", "FROM busybox\nRUN echo hi > /f && echo more >> /f\n")
def check_run_shell_form(env, image_id, cfg):
    assert env.read(image_id, "/f") == "hi\nmore\n"
    history = env.image(image_id).config["history"][-1]
    assert history["created_by"] == "/bin/sh -c echo hi > /f && echo more >> /f"
    assert "empty_layer" not in history


@case("run-exec-form", 'FROM busybox\nRUN ["/bin/sh", "-c", "echo exec > /e"]\n')
def check_run_exec_form(env, image_id, cfg):
    assert env.read(image_id, "/e") == "exec\n"


@case("run-shell-instruction", """
    FROM busybox
    SHELL ["/bin/sh", "-ec"]
    RUN echo "$0 $-" > /flags
    CMD echo shell form
    """)
def check_run_shell_instruction(env, image_id, cfg):
    assert cfg["Shell"] == ["/bin/sh", "-ec"]
    assert "e" in env.read(image_id, "/flags").split()[1]
    assert cfg["Cmd"] == ["/bin/sh", "-ec", "echo shell form"]


@case("run-heredoc", """
    FROM busybox
    RUN <<EOF
    echo one > /h
    echo two >> /h
    EOF
    """)
def check_run_heredoc(env, image_id, cfg):
    assert env.read(image_id, "/h") == "one\ntwo\n"


@case("run-heredoc-shebang", """
    FROM busybox
    RUN <<EOF
    #!/bin/sh
    echo "from a script: $0" > /sb
    EOF
    """)
def check_run_heredoc_shebang(env, image_id, cfg):
    assert env.read(image_id, "/sb") == "from a script: /dev/pipes/EOF\n"
    assert env.path(image_id, "/dev/pipes") is None  # the script never lands in the layer


@case("run-heredoc-to-command", """
    FROM busybox
    RUN cat > /conf <<-EOT
    \tkey=value
    EOT
    """)
def check_run_heredoc_to_command(env, image_id, cfg):
    assert env.read(image_id, "/conf") == "key=value\n"


@case("run-network-flag", "FROM busybox\nRUN --network=none cat /proc/net/dev | grep -c : > /n\n")
def check_run_network_flag(env, image_id, cfg):
    assert env.read(image_id, "/n") == "1\n"  # only lo


@case("run-removes-a-file", "FROM busybox\nRUN rm /etc/group\n")
def check_run_removes_a_file(env, image_id, cfg):
    assert env.path(image_id, "/etc/group") is None
    assert env.path(image_id, "/etc/passwd") is not None


# -- ARG / ENV ------------------------------------------------------------------------------

@case("arg-and-env-in-run", """
    FROM busybox
    ARG A=1
    ENV B=2
    RUN echo "$A $B" > /v
    """)
def check_arg_and_env_in_run(env, image_id, cfg):
    assert env.read(image_id, "/v") == "1 2\n"
    assert "B=2" in cfg["Env"] and not any(e.startswith("A=") for e in cfg["Env"])
    assert env.image(image_id).config["history"][-1]["created_by"].startswith("|1 A=1 /bin/sh -c")


@case("arg-build-arg-override", "FROM busybox\nARG A=default\nRUN echo $A > /v\n",
      build_args={"A": "override"})
def check_arg_build_arg_override(env, image_id, cfg):
    assert env.read(image_id, "/v") == "override\n"


@case("arg-global-scope", """
    ARG V=global
    ARG BASE=busybox
    FROM $BASE
    RUN echo "[$V]" > /before
    ARG V
    RUN echo "[$V]" > /after
    """)
def check_arg_global_scope(env, image_id, cfg):
    assert env.read(image_id, "/before") == "[]\n"
    assert env.read(image_id, "/after") == "[global]\n"


@case("env-wins-over-arg", "FROM busybox\nARG X=arg\nENV X=env\nRUN echo $X > /x\n",
      build_args={"X": "cli"})
def check_env_wins_over_arg(env, image_id, cfg):
    assert env.read(image_id, "/x") == "env\n"


@case("env-both-forms", 'FROM busybox\nENV A=1 B="two words"\nENV C three four\nENV A=$A$A\n')
def check_env_both_forms(env, image_id, cfg):
    # Docker replaces a redefined variable in place; config_update appends it (reported)
    assert sorted(cfg["Env"][1:]) == ["A=11", "B=two words", "C=three four"]


@case("substitution", """
    FROM busybox
    ARG EMPTY
    ENV BASE=/opt
    WORKDIR $BASE/app
    LABEL a=${EMPTY:-dflt} b=${BASE:+set} c=${UNSET-dash} d=\\$BASE e="${BASE}/x"
    """)
def check_substitution(env, image_id, cfg):
    assert cfg["WorkingDir"] == "/opt/app"
    assert cfg["Labels"] == {"a": "dflt", "b": "set", "c": "dash", "d": "$BASE", "e": "/opt/x"}


@case("escape-directive", "# escape=`\nFROM busybox\nRUN echo a `\n    b > /esc\n")
def check_escape_directive(env, image_id, cfg):
    assert env.read(image_id, "/esc") == "a b\n"


# -- metadata instructions ------------------------------------------------------------------

@case("label-forms", 'FROM busybox\nLABEL a=1 "b c"="d e"\nLABEL old form value\nLABEL a=2\n')
def check_label_forms(env, image_id, cfg):
    assert cfg["Labels"] == {"a": "2", "b c": "d e", "old": "form value"}


@case("expose", "FROM busybox\nEXPOSE 80 443/tcp\nEXPOSE 53/udp 8000-8001\n")
def check_expose(env, image_id, cfg):
    assert cfg["ExposedPorts"] == {"80/tcp": {}, "443/tcp": {}, "53/udp": {}, "8000/tcp": {},
                                   "8001/tcp": {}}


@case("user", "FROM busybox\nUSER nobody\nRUN id -u > /tmp/uid\n")
def check_user(env, image_id, cfg):
    assert cfg["User"] == "nobody"
    assert env.read(image_id, "/tmp/uid") == "65534\n"


@case("volume", 'FROM busybox\nVOLUME /data /cache\nVOLUME ["/logs"]\n')
def check_volume(env, image_id, cfg):
    assert cfg["Volumes"] == {"/data": {}, "/cache": {}, "/logs": {}}


@case("stopsignal", "FROM busybox\nARG SIG=SIGUSR1\nSTOPSIGNAL $SIG\n")
def check_stopsignal(env, image_id, cfg):
    assert cfg["StopSignal"] == "SIGUSR1"


@case("healthcheck", "FROM busybox\n"
      "HEALTHCHECK --interval=5s --timeout=2s --retries=3 CMD wget -q localhost || exit 1\n")
def check_healthcheck(env, image_id, cfg):
    assert cfg["Healthcheck"] == {"Test": ["CMD-SHELL", "wget -q localhost || exit 1"],
                                  "Interval": 5_000_000_000, "Timeout": 2_000_000_000,
                                  "Retries": 3}


@case("healthcheck-none", 'FROM busybox\nHEALTHCHECK CMD ["true"]\nHEALTHCHECK NONE\n')
def check_healthcheck_none(env, image_id, cfg):
    assert cfg["Healthcheck"] == {"Test": ["NONE"]}


@case("onbuild-stored", "FROM busybox\nONBUILD RUN echo triggered > /t\nONBUILD COPY . /src\n")
def check_onbuild_stored(env, image_id, cfg):
    assert cfg["OnBuild"] == ["RUN echo triggered > /t", "COPY . /src"]
    assert env.path(image_id, "/t") is None  # stored, not run


@case("cmd-entrypoint-exec", 'FROM busybox\nENTRYPOINT ["echo", "ep"]\nCMD ["arg"]\n')
def check_cmd_entrypoint_exec(env, image_id, cfg):
    assert cfg["Entrypoint"] == ["echo", "ep"] and cfg["Cmd"] == ["arg"]
    assert env.run_image(image_id) == "ep arg\n"


@case("entrypoint-shell-form-ignores-cmd", 'FROM busybox\nCMD ["ignored"]\nENTRYPOINT echo shell\n')
def check_entrypoint_shell_form_ignores_cmd(env, image_id, cfg):
    assert cfg["Entrypoint"] == ["/bin/sh", "-c", "echo shell"]
    assert cfg["Cmd"] == ["ignored"]  # set in this stage before ENTRYPOINT: kept
    assert env.run_image(image_id) == "shell\n"


@case("entrypoint-resets-inherited-cmd", """
    FROM busybox AS parent
    CMD ["inherited"]
    FROM parent
    ENTRYPOINT ["echo"]
    """)
def check_entrypoint_resets_inherited_cmd(env, image_id, cfg):
    assert cfg["Entrypoint"] == ["echo"] and "Cmd" not in cfg


@case("workdir-relative-created", "FROM busybox\nWORKDIR /a\nWORKDIR b\nWORKDIR c\nRUN pwd > /pwd\n")
def check_workdir_relative_created(env, image_id, cfg):
    assert cfg["WorkingDir"] == "/a/b/c"
    assert env.read(image_id, "/pwd") == "/a/b/c\n"
    assert stat.S_ISDIR(env.stat(image_id, "/a/b/c").st_mode)


@case("workdir-existing-is-metadata-only", "FROM busybox\nWORKDIR /etc\n")
def check_workdir_existing_is_metadata_only(env, image_id, cfg):
    image = env.image(image_id)
    assert cfg["WorkingDir"] == "/etc"
    assert len(image.layers) == len(env.image(env.busybox_id).layers)
    assert image.config["history"][-1]["empty_layer"] is True


# -- COPY -----------------------------------------------------------------------------------

FILES = {"a.txt": "A\n", "b.txt": "B\n", "dir/x": "X\n", "dir/sub/y": "Y\n", "other.md": "M\n"}


@case("copy-dir-content", "FROM busybox\nCOPY dir /dst\n", FILES)
def check_copy_dir_content(env, image_id, cfg):
    assert env.read(image_id, "/dst/x") == "X\n" and env.read(image_id, "/dst/sub/y") == "Y\n"
    assert env.path(image_id, "/dst/dir") is None


@case("copy-trailing-slash", "FROM busybox\nCOPY a.txt /newdir/\nCOPY b.txt /file\n"
      "COPY a.txt /etc\n", FILES)
def check_copy_trailing_slash(env, image_id, cfg):
    assert env.read(image_id, "/newdir/a.txt") == "A\n"
    assert env.read(image_id, "/file") == "B\n"
    assert env.read(image_id, "/etc/a.txt") == "A\n"  # an existing dir takes the file inside


@case("copy-wildcards-relative-to-workdir", "FROM busybox\nWORKDIR /w\nCOPY *.txt d?r/x ./\n", FILES)
def check_copy_wildcards_relative_to_workdir(env, image_id, cfg):
    assert env.read(image_id, "/w/a.txt") == "A\n" and env.read(image_id, "/w/b.txt") == "B\n"
    assert env.read(image_id, "/w/x") == "X\n"
    assert env.path(image_id, "/w/other.md") is None


@case("copy-owner-and-mode", """
    FROM busybox
    COPY a.txt /root-owned
    COPY --chown=nobody:nogroup a.txt /named
    COPY --chown=1000 b.txt /numeric
    COPY --chmod=751 dir /modes/
    """, FILES)
def check_copy_owner_and_mode(env, image_id, cfg):
    st = env.stat(image_id, "/root-owned")
    assert (st.st_uid, st.st_gid) == (0, 0)
    st = env.stat(image_id, "/named")
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    st = env.stat(image_id, "/numeric")
    assert (st.st_uid, st.st_gid) == (1000, 1000)
    assert stat.S_IMODE(env.stat(image_id, "/modes/x").st_mode) == 0o751
    assert stat.S_IMODE(env.stat(image_id, "/modes/sub").st_mode) == 0o751


@case("copy-symlink-kept", "FROM busybox\nCOPY dir /d/\n", {**FILES, "dir/link": None})
def check_copy_symlink_kept(env, image_id, cfg):
    found = env.path(image_id, "/d/link")
    assert found is not None and found.is_symlink() and str(found.readlink()) == "x"


@case("copy-heredoc", """
    FROM busybox
    ARG WHO=world
    COPY <<EOF /etc/greeting
    hello $WHO
    EOF
    """)
def check_copy_heredoc(env, image_id, cfg):
    assert env.read(image_id, "/etc/greeting") == "hello world\n"


@case("copy-from-stage-and-image", """
    FROM busybox AS build
    RUN mkdir /out && echo built > /out/artifact && chown 12:34 /out/artifact
    FROM busybox
    COPY --from=build /out/artifact /artifact
    COPY --from=0 /out /out0
    COPY --from=busybox /etc/passwd /passwd.copy
    """)
def check_copy_from_stage_and_image(env, image_id, cfg):
    assert env.read(image_id, "/artifact") == "built\n"
    st = env.stat(image_id, "/artifact")
    assert (st.st_uid, st.st_gid) == (12, 34)  # --from keeps ownership
    assert env.read(image_id, "/out0/artifact") == "built\n"
    assert "root:" in env.read(image_id, "/passwd.copy")


# -- ADD ------------------------------------------------------------------------------------

@case("add-local-archives", """
    FROM busybox
    ADD plain.tar /plain/
    ADD data.tgz /gz
    ADD data.bz /bz
    ADD data.xz /xz
    ADD notatar.tar.gz /kept/
    """, {"plain.tar": tar_bytes({"p.txt": b"plain"}),
          "data.tgz": tar_bytes({"d": None, "d/g.txt": b"gz"}, "gz"),
          "data.bz": tar_bytes({"b.txt": b"bz"}, "bz2"),
          "data.xz": tar_bytes({"x.txt": b"xz"}, "xz"),
          "notatar.tar.gz": b"just text, named like an archive"})
def check_add_local_archives(env, image_id, cfg):
    assert env.read(image_id, "/plain/p.txt") == "plain"
    assert env.read(image_id, "/gz/d/g.txt") == "gz"
    st = env.stat(image_id, "/gz/d/g.txt")
    assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (7, 8, 0o640)  # from the tar
    assert env.read(image_id, "/bz/b.txt") == "bz"
    assert env.read(image_id, "/xz/x.txt") == "xz"
    assert env.read(image_id, "/kept/notatar.tar.gz") == "just text, named like an archive"


@case("add-plain-file-and-dir", "FROM busybox\nADD a.txt dir /added/\n", FILES)
def check_add_plain_file_and_dir(env, image_id, cfg):
    assert env.read(image_id, "/added/a.txt") == "A\n" and env.read(image_id, "/added/x") == "X\n"


# -- .dockerignore, --label, -f -----------------------------------------------------------

@case("dockerignore-exceptions", "FROM busybox\nCOPY . /ctx/\n",
      {**FILES, ".dockerignore": "*.txt\n!b.txt\ndir/**\n!dir/sub/y\n"})
def check_dockerignore_exceptions(env, image_id, cfg):
    assert env.path(image_id, "/ctx/a.txt") is None
    assert env.read(image_id, "/ctx/b.txt") == "B\n"
    assert env.path(image_id, "/ctx/dir/x") is None
    assert env.read(image_id, "/ctx/dir/sub/y") == "Y\n"
    assert env.read(image_id, "/ctx/other.md") == "M\n"
    assert env.path(image_id, "/ctx/Dockerfile") is not None


@case("label-option", "FROM busybox\nLABEL from=file\n", labels={"from": "cli", "extra": "x y"})
def check_label_option(env, image_id, cfg):
    assert cfg["Labels"] == {"from": "cli", "extra": "x y"}


@case("target-stage", """
    FROM busybox AS first
    LABEL stage=first
    FROM busybox AS second
    RUN exit 1
    """, target="first")
def check_target_stage(env, image_id, cfg):
    assert cfg["Labels"] == {"stage": "first"}  # the failing later stage was never built


@pytest.mark.parametrize("dockerfile,files,options,check", CASES)
def test_corpus(bb: BuildEnv, dockerfile: str, files: Any, options: dict, check: Check) -> None:
    image_id, _output = api_build(bb, dockerfile.replace("{busybox}", bb.busybox_id), files, **options)
    check(bb, image_id, bb.config(image_id))
