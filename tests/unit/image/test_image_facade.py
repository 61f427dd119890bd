"""berth.image imports its public names on first use (PEP 562); ``load`` and ``save`` stay the
functions although submodules of the same names exist."""
from __future__ import annotations

from testlib import python_output


def test_importing_the_package_imports_no_submodule() -> None:
    out = python_output("""
        import berth.image
        print(sorted(m for m in sys.modules if m.startswith('berth.image')))
        from berth.image import ImageStore, parse_reference
        print(sorted(m for m in sys.modules if m.startswith('berth.image.')))
    """)
    assert out == ("['berth.image']\n['berth.image.config', 'berth.image.images', "
                   "'berth.image.reference', 'berth.image.schema', 'berth.image.snapshots']\n")


def test_every_public_name_is_its_submodules_object() -> None:
    out = python_output("""
        import berth.image as pkg
        from berth.image import (images, importer, listing, reference, removal, snapshots)
        import berth.image.load, berth.image.save
        load_module, save_module = sys.modules['berth.image.load'], sys.modules['berth.image.save']
        sources = {'images': images, 'importer': importer, 'listing': listing,
                   'reference': reference, 'removal': removal, 'snapshots': snapshots,
                   'load': load_module, 'save': save_module}
        renamed = {'parse_reference': 'parse', 'SAVE_FORMATS': 'FORMATS'}
        for name in pkg.__all__:
            owner = sources[pkg._OWNERS[name]]
            assert getattr(pkg, name) is getattr(owner, renamed.get(name, name)), name
        from berth.image import load, save
        print(callable(load), callable(save), load.__module__, save.__module__)
        print(sorted(set(pkg.__all__) - set(dir(pkg))))
    """)
    assert out == "True True berth.image.load berth.image.save\n[]\n"


def test_load_and_save_are_the_functions_whichever_is_imported_first() -> None:
    out = python_output("""
        import berth.image.save                 # the submodule first ...
        from berth.image import save, load      # ... the package still gives the functions
        import berth.image.load
        import berth.image as pkg
        print(type(save).__name__, type(load).__name__, type(pkg.load).__name__)
    """)
    assert out == "function function function\n"
