"""The Python module, its stub file and the command offer exactly what the
library's description (pvestorage_api.h, read through pvestorage._api() and
`pvestorage --api`) says: each call, value, error class, setting and plugin
method it names is there (with the described argument names), each marked
absent on purpose is not, and nothing public is there that it does not
know.  In the style of Sys::Virt's t/030-api-coverage.t."""
import ast
import builtins
import inspect
import json
import os
import subprocess

import pytest

import pvestorage

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CLI = os.environ.get("PVS_CLI") or os.path.join(ROOT, "build", "pvestorage")
STUB = os.path.join(ROOT, "bindings", "python", "pvestorage", "__init__.pyi")
MAN = os.path.join(ROOT, "cli", "pvestorage.1")

API = pvestorage._api()


def present(column):
    return column is not None and not column.startswith("-")


def stub():
    with open(STUB, encoding="utf-8") as f:
        tree = ast.parse(f.read())
    names, plugin = {}, {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names[node.name] = node
        elif isinstance(node, ast.AnnAssign):
            names[node.target.id] = node
        if isinstance(node, ast.ClassDef) and node.name == "Plugin":
            plugin = {n.name: n for n in node.body if isinstance(n, ast.FunctionDef)}
    return names, plugin


STUB_NAMES, STUB_PLUGIN = stub()


@pytest.mark.parametrize("row", API["calls"] + API["values"], ids=lambda r: r["name"])
def test_each_described_call_and_value(row):
    py = row["python"]
    assert py, f"{row['name']}: the description names it for Python or says why not"
    if not present(py):
        assert len(py) > 10, f"{row['name']}: absent on purpose needs a reason"
        assert not hasattr(pvestorage, row["name"]), f"{row['name']} is absent on purpose, yet defined"
        return
    assert hasattr(pvestorage, py), f"pvestorage.{py} is missing"
    if py != "__version__":
        assert py in STUB_NAMES, f"pvestorage.{py} is not in the stub file"
    if callable(getattr(pvestorage, py)):
        assert (getattr(pvestorage, py).__doc__ or "").strip(), f"pvestorage.{py} has no docstring"


def test_nothing_public_the_description_does_not_know():
    known = {r["python"] for r in API["calls"] + API["values"] if present(r["python"])}
    known |= {e["python_class"] for e in API["errors"] if e["python_class"]}
    known |= {"Error", "StorageWarning", "Plugin"}   # the base class, the warning, the plugin type
    public = {n for n in dir(pvestorage) if not n.startswith("_")}
    assert public - known == set()
    assert {n for n in STUB_NAMES if not n.startswith("_")} - known - {"Config"} == set()


@pytest.mark.parametrize("row", API["errors"], ids=lambda r: r["name"])
def test_each_error_code_has_its_class(row):
    if row["name"] == "OK":
        return
    cls = getattr(pvestorage, row["python_class"]) if row["python_class"] else pvestorage.Error
    assert issubclass(cls, pvestorage.Error)
    if row["python_base"]:
        assert issubclass(cls, getattr(builtins, row["python_base"]))
    if row["python_class"]:
        assert row["python_class"] in STUB_NAMES


def test_errors_the_binding_finds_carry_a_code():
    deep = {}
    for _ in range(200):
        deep = {"x": deep}
    with pytest.raises(pvestorage.HintError) as e:
        pvestorage.verify_hints(deep)
    assert e.value.code == "EHINTS"
    cyclic = {"ids": {}}
    cyclic["ids"]["s"] = {"type": "dir", "path": "/x", "me": cyclic}
    with pytest.raises(pvestorage.InvalidError) as e:
        pvestorage.activate_volumes(cyclic, ["s:iso/x.iso"])
    assert e.value.code == "EINVAL"


def test_settings_are_the_described_ones():
    names = [s["name"] for s in API["settings"]]
    assert sorted(pvestorage.settings()) == sorted(names)
    pvestorage.configure(**pvestorage.settings())
    assert pvestorage.settings()["root"] == "/"


def arguments(fn):
    a = fn.args
    names = [x.arg for x in a.posonlyargs + a.args if x.arg != "self"]
    required = len(names) - len(a.defaults)
    return names, required


@pytest.mark.parametrize("row", API["methods"], ids=lambda r: r["name"])
def test_each_plugin_method_with_the_described_arguments(row):
    assert callable(getattr(pvestorage.Plugin, row["name"], None)), f"Plugin.{row['name']} is missing"
    want, required = row["arguments"], row["required"]
    names, got_required = arguments(STUB_PLUGIN[row["name"]])
    assert names == want, f"Plugin.{row['name']}: stub arguments {names}, described {want}"
    assert got_required == required, f"Plugin.{row['name']}: {got_required} required, described {required}"
    sig = inspect.signature(getattr(pvestorage.Plugin, row["name"]))
    params = [p for p in sig.parameters.values() if p.name != "self"]
    assert [p.name for p in params] == want, "the method's own signature"
    assert sum(p.default is inspect.Parameter.empty for p in params) == required


@pytest.mark.parametrize("row", API["one_calls"], ids=lambda r: r["name"])
def test_each_one_call_with_the_described_arguments(row):
    """The calls the module reaches through one entry: their signatures
    (docstring and stub) are the row's."""
    fn = getattr(pvestorage, row["name"])
    params = list(inspect.signature(fn).parameters.values())
    assert [p.name for p in params] == row["arguments"]
    assert sum(p.default is inspect.Parameter.empty for p in params) == row["required"]
    names, required = arguments(STUB_NAMES[row["name"]])
    assert (names, required) == (row["arguments"], row["required"]), "the stub's signature"
    assert row["name"] in {c["name"] for c in API["calls"]}, "a one-call is a call of the description too"


def test_plugin_has_no_undescribed_methods():
    methods = {m["name"] for m in API["methods"]}
    public = {n for n in dir(pvestorage.Plugin) if not n.startswith("_")}
    assert public - methods == {"type", "api"}   # the plugin's declarations


@pytest.mark.skipif(not os.access(CLI, os.X_OK), reason=f"the command is not built ({CLI}): run scripts/build.sh")
def test_the_command_offers_the_described_calls():
    out = subprocess.run([CLI, "--api"], capture_output=True, text=True, check=True, timeout=30).stdout
    api = json.loads(out)
    assert {k: v for k, v in api.items() if k != "commands"} == API, "the command and the module describe one API"
    commands = set(api["commands"])
    usage = subprocess.run([CLI, "--help"], capture_output=True, text=True, timeout=30).stdout
    with open(MAN, encoding="utf-8") as f:
        man = f.read()
    wanted = set()
    for row in api["calls"]:
        cmd = row["command"]
        if cmd == "--SETTING":
            continue   # every setting's option, below
        if cmd.startswith("--"):
            assert cmd in usage, f"{row['name']}: the command's {cmd} is not in --help"
        elif present(cmd):
            assert cmd in commands, f"{row['name']}: the command has no '{cmd}'"
            wanted.add(cmd)
        else:
            assert len(cmd) > 10, f"{row['name']}: absent from the command on purpose needs a reason"
    assert commands - wanted == set(), "commands the description does not know"
    for s in api["settings"]:
        assert f"--{s['option']} {s['metavar']}" in usage
        assert "\\-\\-" + s["option"].replace("-", "\\-") in man, f"--{s['option']} is not in the man page"
