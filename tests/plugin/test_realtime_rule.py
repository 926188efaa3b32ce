"""The real-time rule, checked on the built plugin: run() reaches no allocation, lock, log or I/O.

Walks the machine code of the plugin's run() and every local function it reaches (objdump on the
shipped binaries, which keep their symbol table for this), and lists the external functions it can
call. Only pure memory and math helpers are allowed; operator new/delete, malloc, free, a mutex,
printf or write anywhere on that path fails the test.
"""

from __future__ import annotations

import pytest

from tests.objdump_calls import functions, reachable_externals
from tests.plugin.bridge_host import CLAP, LV2, VST3

ALLOWED = {"memset", "memcpy", "memmove", "fmod", "floor", "ceil", "fabs", "round", "lround", "llround"}
# std::chrono::steady_clock::now() times run() for /diffhost/plugin/stats: libstdc++ answers it with
# clock_gettime(CLOCK_MONOTONIC), which the vDSO serves without a system call or a lock.
ALLOWED.add("_ZNSt6chrono3_V212steady_clock3nowEv")
RUN = "_ZN7DISTRHO12BridgePlugin3runEPPKfPPfjPKNS_9MidiEventEj"  # DISTRHO::BridgePlugin::run(...)


@pytest.mark.parametrize("binary", ["vst3", "lv2", "clap"])
def test_run_reaches_no_allocation_lock_or_io(plugin_bin, binary):
    so = {
        "vst3": VST3 / "Contents" / "x86_64-linux" / "diffhost-bridge.so",
        "lv2": LV2 / "diffhost-bridge_dsp.so",
        "clap": CLAP,
    }[binary]
    funcs = functions(str(so))
    assert RUN in funcs, "run() is not in the binary's symbol table (was it stripped?)"
    seen, external = reachable_externals(funcs, RUN)
    assert any("Engine7process" in name for name in seen), "run() does not reach the engine"
    assert external <= ALLOWED, f"the audio thread can call {sorted(external - ALLOWED)}"
    # and the check can fail: the worker thread, off the audio thread, does allocate and do I/O
    _, worker = reachable_externals(funcs, "_ZN6bridge4Link6handleERKNS_3osc7MessageE")  # Link::handle
    assert {"_Znwm", "sendto", "pthread_mutex_lock"} <= worker
