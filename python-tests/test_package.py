"""The module as a package: what a type checker and `from pvestorage import *`
see (PEP 561 stubs and py.typed beside the extension)."""
import os

import pvestorage


def test_package_files_beside_the_extension():
    here = os.path.dirname(pvestorage.__file__)
    assert os.path.basename(pvestorage.__file__) == "__init__.py"
    assert os.path.isfile(os.path.join(here, "py.typed"))
    assert os.path.isfile(os.path.join(here, "__init__.pyi"))
    assert os.path.dirname(pvestorage._pvestorage.__file__) == here


def test_public_names_are_re_exported():
    for name in ("activate_volumes", "map_volume", "register_plugin", "Error", "StorageWarning", "APIVER"):
        assert name in pvestorage.__all__
        assert getattr(pvestorage, name) is getattr(pvestorage._pvestorage, name)
    assert not [n for n in pvestorage.__all__ if n.startswith("_")]
    assert pvestorage.APIVER == 15


def test_exceptions_name_the_package():
    assert pvestorage.Error.__module__ == "pvestorage"
    assert pvestorage.NotFoundError.__qualname__ == "NotFoundError"
    try:
        pvestorage.parse_volume_id("no-colon")
    except pvestorage.Error as e:
        assert type(e).__module__ == "pvestorage"
    else:
        raise AssertionError("no error for a volume ID without a storage")


def test_stub_declares_every_public_name():
    with open(os.path.join(os.path.dirname(pvestorage.__file__), "__init__.pyi"), encoding="utf-8") as f:
        stub = f.read()
    missing = [n for n in pvestorage.__all__
               if f"def {n}(" not in stub and f"class {n}(" not in stub and f"class {n}:" not in stub
               and f"{n}:" not in stub]
    assert missing == []
