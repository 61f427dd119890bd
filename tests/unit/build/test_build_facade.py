"""berth.build imports its public names on first use (PEP 562), and the instruction classes keep
a frozen dataclass's ``==``, ``hash`` and ``repr`` (``berth.values``, not ``dataclasses``)."""
from __future__ import annotations

import dataclasses

import pytest
from testlib import python_output

from berth import values
from berth.build import instructions as ins
from berth.build import parse


DOCKERFILE = """\
ARG BASE=busybox
FROM --platform=linux/amd64 $BASE AS one
MAINTAINER me
RUN --network=none echo a > /a
RUN <<EOF
echo b
EOF
CMD ["sh"]
ENTRYPOINT ["/bin/sh", "-c"]
SHELL ["/bin/bash", "-c"]
ENV A=1 B=2
LABEL x=y
EXPOSE 80/tcp 53/udp
COPY --from=one --chown=1:1 a b /dst/
COPY <<EOT /x
inline
EOT
ADD --checksum=sha256:00 http://example.invalid/f /f
WORKDIR /w
USER nobody
VOLUME ["/v"]
STOPSIGNAL TERM
HEALTHCHECK --interval=5s CMD true
ONBUILD RUN echo later
"""


def test_importing_the_package_imports_no_submodule() -> None:
    out = python_output("""
        import berth.build
        print(sorted(m for m in sys.modules if m.startswith('berth.')))
        from berth.build import DockerIgnore
        print('berth.build.instructions' in sys.modules, 'berth.build.builder' in sys.modules)
    """)
    assert out == "['berth.build', 'berth.lazy']\nFalse False\n"


def test_every_public_name_resolves_to_its_submodule_object() -> None:
    out = python_output("""
        import berth.build as pkg
        from berth.build import (builder, cache, context, dockerignore, instructions, parser, scope,
                                 substitution)
        sources = (builder, cache, context, dockerignore, instructions, parser, scope, substitution)
        for name in pkg.__all__:
            owners = [m for m in sources if name in vars(m) and m.__name__.endswith(
                {'Builder': 'builder', 'BuildOptions': 'builder', 'BuildResult': 'builder',
                 'BuildError': 'builder', 'BuildCache': 'cache', 'BuildContext': 'context',
                 'DockerIgnore': 'dockerignore', 'parse': 'parser', 'parse_trigger': 'parser',
                 'GlobalScope': 'scope', 'StageScope': 'scope', 'platform_args': 'scope',
                 'SUBSTITUTED': 'substitution', 'expand': 'substitution',
                 'expand_instruction': 'substitution', 'split_words': 'substitution',
                 }.get(name, 'instructions'))]
            assert len(owners) == 1 and getattr(pkg, name) is vars(owners[0])[name], name
        print(sorted(set(pkg.__all__) - set(dir(pkg))))
    """)
    assert out == "[]\n"


def _twin(cls: type) -> type:
    """The same fields as a plain ``@dataclass(frozen=True)``: the reference semantics."""
    specs = [(name, object, dataclasses.field(compare=name in cls._compared))  # type: ignore[attr-defined]  # pylint: disable=invalid-field-call
             for name in values.fields(cls)]
    return dataclasses.make_dataclass(cls.__name__, specs, frozen=True)


def _values(instance: object) -> dict:
    return {name: getattr(instance, name) for name in values.fields(instance)}


def _every_instance() -> list:
    dockerfile = parse(DOCKERFILE)
    found = [dockerfile, *dockerfile.instructions, *dockerfile.stages]
    for instr in dockerfile.instructions:
        found += list(getattr(instr, "heredocs", ())) + list(getattr(instr, "inline", ()))
        found += list(instr.args) if isinstance(instr, ins.Arg) else []
    return found


def test_the_corpus_covers_every_instruction_class() -> None:
    classes = {type(instance) for instance in _every_instance()}
    public = {cls for cls in vars(ins).values() if isinstance(cls, type)
              and issubclass(cls, values.Value) and cls is not values.Value
              and not cls.__name__.startswith("_") and cls is not ins.Instruction}
    assert public <= classes, public - classes


@pytest.mark.parametrize("instance", _every_instance(), ids=lambda i: type(i).__name__)
def test_eq_hash_and_repr_are_a_frozen_dataclasses(instance: object) -> None:
    reference = _twin(type(instance))(**_values(instance))
    assert repr(instance) == repr(reference)
    assert hash(instance) == hash(reference)
    same = instance.replace()  # type: ignore[attr-defined]
    assert same == instance and hash(same) == hash(instance) and same is not instance
    assert instance != reference  # another class is never equal, as with dataclasses
    assert instance.__eq__(reference) is NotImplemented
    with pytest.raises(values.FrozenInstanceError):
        instance.line = 0  # type: ignore[attr-defined]
    with pytest.raises(AttributeError):  # FrozenInstanceError is one, as in dataclasses
        del instance.line  # type: ignore[attr-defined]


def test_a_changed_field_is_unequal_and_compare_false_fields_are_ignored() -> None:
    run = parse("FROM busybox\nRUN echo a\n").instructions[1]
    assert run != run.replace(args=("echo b",))
    cmd_fields = set(values.fields(ins.Cmd))
    assert run != ins.Cmd(**{k: v for k, v in _values(run).items() if k in cmd_fields})
    dockerfile = parse("FROM busybox\n")
    warned = dockerfile.replace(warnings=("a warning",))
    assert warned == dockerfile and hash(warned) == hash(dockerfile)
    assert "warnings=('a warning',)" in repr(warned)
