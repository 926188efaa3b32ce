"""The real-time rule, checked on the compiled callback: no allocation, no locks, no I/O.

Runs on the built extension (diffhost.host.audio._mixer_cffi), the very code a stream calls.

Walks the machine code of dh_callback and every local function it reaches (objdump), and
lists the external functions it can call. Only pure memory/math helpers are allowed; a
malloc, free, printf, pthread_mutex_lock or write anywhere on that path fails the test.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import pytest

from diffhost.host.audio import native

# clock_gettime(CLOCK_MONOTONIC_RAW) is answered by the vDSO (no system call, no lock) on the
# kernels we run; it stamps each block for Ableton Link's clock.
ALLOWED = {"memset", "memcpy", "memmove", "llround", "ceil", "fabsf", "lround", "clock_gettime"}


def _functions(so: str) -> dict[str, list[str]]:
    """function name -> the symbols its calls and jumps refer to."""
    text = subprocess.run(
        ["objdump", "-d", "--no-show-raw-insn", so], capture_output=True, text=True, check=True
    ).stdout
    funcs: dict[str, list[str]] = {}
    current = None
    for line in text.splitlines():
        head = re.match(r"^[0-9a-f]+ <([^>]+)>:$", line)
        if head:
            current = head.group(1)
            funcs[current] = []
            continue
        target = re.search(r"\b(?:call|jmp)\w*\s+[0-9a-f]+ <([^>+]+)>", line)
        if current and target and target.group(1) != current:
            funcs[current].append(target.group(1))
    return funcs


def test_the_callback_reaches_no_allocation_lock_or_io():
    if shutil.which("objdump") is None:
        if os.environ.get("DIFFHOST_REQUIRE_DEVICES") == "1":
            pytest.fail("objdump (binutils, installed by scripts/setup.sh) is missing")
        pytest.skip("objdump (binutils) is not installed")
    so = str(native.library_path())  # the extension module the package was built with
    funcs = _functions(so)
    # The stream calls cffi's direct-call wrapper (ffi.addressof(lib, "dh_callback")), which must
    # jump straight into dh_callback: through the PLT, its first call would run the dynamic linker.
    assert "dh_callback" in funcs and "_cffi_d_dh_callback" in funcs
    seen, todo, external = set(), ["_cffi_d_dh_callback"], set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        for target in funcs.get(name, []):
            if target.endswith("@plt"):
                external.add(target.removesuffix("@plt"))
            elif target in funcs:
                todo.append(target)
            else:
                external.add(target)
    assert "dh_callback" in seen, "the stream's entry does not reach dh_callback directly"
    assert external <= ALLOWED, f"the audio callback can call {sorted(external - ALLOWED)}"
    # and the check can fail: the constructor, off the audio thread, does allocate
    assert "calloc@plt" in funcs["dh_mixer_new"]
