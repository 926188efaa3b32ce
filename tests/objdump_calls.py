"""What machine code can call, read from `objdump -d`: how the real-time rule is checked on the
compiled audio callback (tests/audio) and on the built plugin's run() (tests/plugin)."""

from __future__ import annotations

import re
import subprocess

INDIRECT = "<indirect call>"  # a call through a pointer (a virtual call) could go anywhere


def functions(so: str) -> dict[str, list[str]]:
    """function name -> the symbols its calls and jumps refer to (INDIRECT for a call through a pointer)."""
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
            funcs[current].append(INDIRECT)
    return funcs


def reachable_externals(funcs: dict[str, list[str]], entry: str) -> tuple[set[str], set[str]]:
    """(the local functions `entry` reaches, the external functions it can call), following every
    call and jump; a call through the PLT is external under its own name."""
    seen: set[str] = set()
    todo, external = [entry], set()
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
