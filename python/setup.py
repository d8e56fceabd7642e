"""Builds msal_redis_cache and its extension msal_redis_cache._core from the repository's C++ core (../core) and the
pybind11 glue (../bindings/python): the same sources the Node package compiles to wasm. The Lua scripts it sends to
Redis are the Node package's (../js/redis/lua), copied into the package at build time. Metadata: pyproject.toml.

Build from a checkout of the repository: `npm run build:python` (in place), or
`pip install ./python --no-build-isolation`. Needs pybind11-dev, python3-dev, nlohmann-json3-dev and a C++17 compiler.
"""

import os
import shutil
from pathlib import Path

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
LUA_SOURCE = ROOT / "js" / "redis" / "lua"
LUA_TARGET = HERE / "msal_redis_cache" / "lua"


def copy_lua_scripts() -> None:
    """The scripts live once, in js/redis/lua; the Python package ships a copy made here (never committed)."""
    if not LUA_SOURCE.is_dir():
        if not any(LUA_TARGET.glob("*.lua")):
            raise SystemExit(f"msal_redis_cache: the Lua scripts are missing ({LUA_SOURCE}): build from the repository")
        return
    LUA_TARGET.mkdir(exist_ok=True)
    for stale in LUA_TARGET.glob("*.lua"):
        stale.unlink()
    for script in sorted(LUA_SOURCE.glob("*.lua")):
        shutil.copyfile(script, LUA_TARGET / script.name)


copy_lua_scripts()



def relative(path: Path) -> str:
    """setuptools takes source paths relative to setup.py's directory only."""
    return os.path.relpath(path, HERE)


class BuildExt(build_ext):
    """Objects of ../core sources land at <build_temp>/../core/...: make those directories (and build_temp, which the
    compiler's path goes through) first."""

    def build_extension(self, ext: Extension) -> None:
        os.makedirs(self.build_temp, exist_ok=True)
        for source in ext.sources:
            os.makedirs(os.path.normpath(os.path.join(self.build_temp, os.path.dirname(source))), exist_ok=True)
        super().build_extension(ext)


core_sources = sorted(relative(path) for path in (ROOT / "core" / "src").glob("*.cpp"))
extension = Extension(
    "msal_redis_cache._core",
    sources=[relative(ROOT / "bindings" / "python" / "core_module.cpp"), *core_sources],
    include_dirs=[relative(ROOT / "core" / "include"), relative(ROOT / "core" / "src")],
    language="c++",
    extra_compile_args=["-std=c++17", "-O2", "-fvisibility=hidden"],
)

setup(
    ext_modules=[extension],
    cmdclass={"build_ext": BuildExt},
    package_data={"msal_redis_cache": ["lua/*.lua", "py.typed"]},
)
