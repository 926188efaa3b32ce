"""Build glue that pyproject.toml cannot express: the C mixer extension (cffi API mode).

Everything else (metadata, packages, data) lives in pyproject.toml. The recipe itself is
host/audio/_mixer_build.py; it yields diffhost.host.audio._mixer_cffi in wheels, in `pip install .`
and, in place beside the source (host/audio/), in editable installs.
"""

from setuptools import setup

setup(cffi_modules=["host/audio/_mixer_build.py:make_ffi"])
