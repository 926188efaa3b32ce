"""The real-time rule, checked on the built plugin: run() reaches no allocation, lock, log or I/O.

Walks the machine code of the plugin's run() and every local function it reaches (objdump on the
shipped binaries, which keep their symbol table for this), and lists the external functions it can
call. Only pure memory and math helpers are allowed; operator new/delete, malloc, free, a mutex,
printf or write anywhere on that path fails the test.
"""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.plugin.bridge_host import CLAP, LV2, VST3

ALLOWED = {"memset", "memcpy", "memmove", "fmod", "floor", "ceil", "fabs", "round", "lround", "llround"}
# std::chrono::steady_clock::now() times run() for /diffhost/plugin/stats: libstdc++ answers it with
# clock_gettime(CLOCK_MONOTONIC), which the vDSO serves without a system call or a lock.
ALLOWED.add("_ZNSt6chrono3_V212steady_clock3nowEv")
RUN = "_ZN7DISTRHO12BridgePlugin3runEPPKfPPfjPKNS_9MidiEventEj"  # DISTRHO::BridgePlugin::run(...)


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
        target = re.search(r"\b(?:call|jmp)\w*\s+\*?[0-9a-f]+ <([^>+]+)", line)
        if current and target and target.group(1) != current:
            funcs[current].append(target.group(1))
        elif current and re.search(r"\bcall\w*\s+\*", line):
            funcs[current].append("<indirect call>")  # a virtual call could go anywhere: not allowed
    return funcs


def _reachable_externals(funcs: dict[str, list[str]], entry: str) -> tuple[set[str], set[str]]:
    seen, todo, external = set(), [entry], set()
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
    return seen, external


@pytest.mark.parametrize("binary", ["vst3", "lv2", "clap"])
def test_run_reaches_no_allocation_lock_or_io(plugin_bin, binary):
    so = {
        "vst3": VST3 / "Contents" / "x86_64-linux" / "diffhost-bridge.so",
        "lv2": LV2 / "diffhost-bridge_dsp.so",
        "clap": CLAP,
    }[binary]
    funcs = _functions(str(so))
    assert RUN in funcs, "run() is not in the binary's symbol table (was it stripped?)"
    seen, external = _reachable_externals(funcs, RUN)
    assert any("Engine7process" in name for name in seen), "run() does not reach the engine"
    assert external <= ALLOWED, f"the audio thread can call {sorted(external - ALLOWED)}"
    # and the check can fail: the worker thread, off the audio thread, does allocate and do I/O
    _, worker = _reachable_externals(funcs, "_ZN6bridge4Link6handleERKNS_3osc7MessageE")  # Link::handle
    assert {"_Znwm", "sendto", "pthread_mutex_lock"} <= worker
