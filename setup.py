"""Build glue that pyproject.toml cannot express: the C mixer extension (cffi API mode).

Everything else (metadata, packages, data) lives in pyproject.toml. The recipe itself is
diffhost/host/audio/_mixer_build.py; it yields diffhost.host.audio._mixer_cffi in wheels, in `pip install .`
and, in place beside the source (diffhost/host/audio/), in editable installs.

cffi compiles the module against Python's stable ABI (an .abi3 extension), so the wheel is tagged
cp311-abi3: one wheel per operating system and CPU serves Python 3.11 and every later version.
"""

from setuptools import setup

setup(
    cffi_modules=["diffhost/host/audio/_mixer_build.py:make_ffi"],
    options={"bdist_wheel": {"py_limited_api": "cp311"}},
)
