"""berth.container imports its public names on first use (PEP 562): importing the package costs
nothing, every name of ``__all__`` still resolves, and ``berth.container.inspect`` stays the
function whichever import comes first."""
from __future__ import annotations

from testlib import python_output


def test_importing_the_package_imports_no_submodule() -> None:
    out = python_output("""
        import berth.container
        print(sorted(m for m in sys.modules if m.startswith('berth.')))
    """)
    assert out == "['berth.container', 'berth.lazy']\n"


def test_a_spec_parser_does_not_import_the_service_runtime_or_volumes() -> None:
    out = python_output("""
        from berth.container import parse_labels
        print(parse_labels(['a=b']))
        print(sorted(m for m in sys.modules if m.startswith('berth.')))
    """)
    labels, modules = out.splitlines()
    assert labels == "{'a': 'b'}"
    assert modules == "['berth.container', 'berth.container.spec', 'berth.errors', 'berth.lazy', 'berth.values']"


def test_every_public_name_resolves_to_its_submodule_object() -> None:
    out = python_output("""
        import berth.container as pkg
        from berth.container import inspect, records, service, shimctl, spec
        sources = {'Container': records, 'ContainerService': service, 'ShimError': shimctl,
                   'StartFailed': shimctl}
        modules = sys.modules
        for name in pkg.__all__:
            source = sources.get(name)
            if source is None:
                source = modules['berth.container.spec'] if hasattr(spec, name) else \\
                    modules['berth.container.inspect']
            assert getattr(pkg, name) is getattr(source, name), name
        assert set(pkg.__all__) <= set(dir(pkg))
        print(len(pkg.__all__))
    """)
    assert out == "20\n"


def test_inspect_is_the_function_even_when_the_submodule_came_first() -> None:
    out = python_output("""
        from berth.container.inspect import unix_time  # the submodule first
        from berth.container import logs  # imports .inspect too
        import berth.container
        from berth.container import inspect
        print(inspect.__name__, type(inspect).__name__, berth.container.inspect is inspect)
        print(sys.modules['berth.container.inspect'].inspect is inspect)
    """)
    assert out == "inspect function True\nTrue\n"


def test_submodules_import_through_the_package_and_unknown_names_fail() -> None:
    out = python_output("""
        from berth.container import health, networking, shimctl, spec as container_spec
        print(container_spec.__name__, shimctl.__name__, health.__name__, networking.__name__)
        import berth.container
        try:
            berth.container.no_such_name
        except AttributeError as exc:
            print(exc)
    """)
    assert out.splitlines() == [
        "berth.container.spec berth.container.shimctl berth.container.health "
        "berth.container.networking",
        "module 'berth.container' has no attribute 'no_such_name'"]
