"""The real-time rule, checked on the compiled callback: no allocation, no locks, no I/O.

Runs on the built extension (diffhost.host.audio._mixer_cffi), the very code a stream calls.

Walks the machine code of dh_callback and every local function it reaches (objdump), and
lists the external functions it can call. Only pure memory/math helpers are allowed; a
malloc, free, printf, pthread_mutex_lock or write anywhere on that path fails the test.
"""

from __future__ import annotations

import os
import shutil

import pytest

from diffhost.host.audio import native
from tests.objdump_calls import functions, reachable_externals

# clock_gettime(CLOCK_MONOTONIC_RAW) is answered by the vDSO (no system call, no lock) on the
# kernels we run; it stamps each block for Ableton Link's clock.
ALLOWED = {"memset", "memcpy", "memmove", "llround", "ceil", "fabsf", "lround", "clock_gettime"}


def test_the_callback_reaches_no_allocation_lock_or_io():
    if shutil.which("objdump") is None:
        if os.environ.get("DIFFHOST_REQUIRE_DEVICES") == "1":
            pytest.fail("objdump (binutils, installed by scripts/setup.sh) is missing")
        pytest.skip("objdump (binutils) is not installed")
    so = str(native.library_path())  # the extension module the package was built with
    funcs = functions(so)
    # The stream calls cffi's direct-call wrapper (ffi.addressof(lib, "dh_callback")), which must
    # jump straight into dh_callback: through the PLT, its first call would run the dynamic linker.
    assert "dh_callback" in funcs and "_cffi_d_dh_callback" in funcs
    seen, external = reachable_externals(funcs, "_cffi_d_dh_callback")
    assert "dh_callback" in seen, "the stream's entry does not reach dh_callback directly"
    assert external <= ALLOWED, f"the audio callback can call {sorted(external - ALLOWED)}"
    # and the check can fail: the constructor, off the audio thread, does allocate
    assert "calloc@plt" in funcs["dh_mixer_new"]
