"""The pvestorage Python package: the extension module with the C core
compiled in (the same list of core sources as CMake and Makefile.PL), its
type stubs and py.typed.  Metadata is in pyproject.toml.

    pip install --no-build-isolation .      (or: pip wheel --no-build-isolation .)
"""
import os
import re
import subprocess

from setuptools import Extension, setup

HERE = os.path.dirname(os.path.abspath(__file__))


def core_sources():
    with open(os.path.join(HERE, "core", "sources.txt"), encoding="utf-8") as f:
        return [line.strip() for line in f if line.strip()]


def version():
    with open(os.path.join(HERE, "core", "include", "pvestorage.h"), encoding="utf-8") as f:
        return re.search(r'#define PVS_VERSION "([^"]+)"', f.read()).group(1)


def pkg_config(*args):
    try:
        out = subprocess.run(["pkg-config", *args, "jansson"], check=True, capture_output=True, text=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return out.split()


cflags = pkg_config("--cflags")
extension = Extension(
    "pvestorage._pvestorage",
    sources=["bindings/python/pvestorage.c", "bindings/python/foreign.c", "bindings/python/convert.c"]
    + core_sources(),
    include_dirs=["core/include"] + [f[2:] for f in cflags if f.startswith("-I")],
    define_macros=[("_GNU_SOURCE", None)],
    # the warning flags of CMake's build (CMakeLists.txt)
    extra_compile_args=["-std=gnu11", "-fvisibility=hidden", "-Wall", "-Wextra"],
    libraries=["jansson", "rbd", "rados", "pthread"],
)

setup(
    version=version(),
    packages=["pvestorage"],
    package_dir={"": "bindings/python"},
    package_data={"pvestorage": ["__init__.pyi", "py.typed"]},
    ext_modules=[extension],
    # beside, not inside, CMake's build/
    options={"build": {"build_base": "build-setuptools"}, "egg_info": {"egg_base": "build-setuptools"}},
)
