"""`diffhost gui` with an engine whose model load lasts two minutes, in native torch code on torch's
own thread pool: quitting during the load is forced, not left to chance. Prints the moment the
window closed, so the caller can time the exit. Used by tests/gui/test_gui_app.py and
bench/quit_time.py; arguments are `diffhost gui`'s.
"""

import sys
import time

import torch

import diffhost.gui.app as gui_app
from diffhost.cli import build_parser
from diffhost.commands import gui
from diffhost.engine.engine import Engine
from diffhost.engine.loader import load_model


def slow_loader(spec):
    # The engine's worker stays inside a model load, in native torch code on torch's own thread
    # pool, for far longer than quitting may take: the race of quitting mid-load, forced.
    model = load_model(spec, device="cpu")
    x = torch.randn(384, 384)
    end = time.monotonic() + 120
    while time.monotonic() < end:
        x = torch.tanh(x @ x)
    return model


real_run_window = gui_app.run_window


def run_window(*a, **k):
    code = real_run_window(*a, **k)
    print(f"window-closed {time.time():.3f}", flush=True)
    return code


gui_app.run_window = run_window

args = build_parser().parse_args(sys.argv[1:])
sys.exit(gui.run(args, engine=Engine(slow_loader)))
