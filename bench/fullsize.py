"""Full-size check: each family at its published size, random weights, through load_model.

Random weights cost the same time and memory as trained ones, so this measures what a user's
machine will do with the real checkpoint without downloading it. For each family the script
builds the pipeline from its published configuration (seeded random weights), saves it as a
diffusers folder (safetensors) and then, for every configuration in its own subprocess (so peak
memory is that configuration's own):

- load time: load_model on the folder (read + build + move to the device);
- peak memory: the process's peak RSS (CPU) or torch's peak allocation (CUDA), load included;
- s/step: the median time between denoising steps (guided, at the model's default guidance);
- audio s/s: seconds of audio per second of wall time for the whole render.

Configurations: the requested lengths (default 2 s and 10 s), each with the model's own window
and, where the family renders a fixed window (Stable Audio Open), with `fit_window=True`; the
speed-up column is the fitted render against the full window at the same length, same run.
On CUDA every configuration also runs in float16 and bfloat16 and with torch.compile on the
denoiser (the first compiled step includes compilation and is excluded from s/step).

    python bench/fullsize.py [--family StableAudioPipeline ...] [--steps 3] [--lengths 2 10]
                             [--device cpu|cuda] [--dtypes float32 ...] [--compile] [--untiled]

Published configurations used (diffusers class defaults match them unless listed):
- StableAudioPipeline: stabilityai/stable-audio-open-1.0: DiT 1,057 M (StableAudioDiTModel
  defaults), Oobleck VAE 156 M (AutoencoderOobleck defaults), T5-base encoder, projection
  max 512 s, CosineDPMSolverMultistepScheduler (sigma 0.3..500, v-prediction), 128 tokens.
- LongCatAudioDiTPipeline: LongCat-AudioDiT-1B: LongCatAudioDiTTransformer defaults (1,536 wide,
  24 deep), LongCatAudioDiTVae defaults with strides [2, 4, 4, 8, 8] (2,048 samples per latent
  frame, 24 kHz; the strides are assumed from that ratio), UMT5-base encoder.
Tokenizers are a small word-level vocabulary (tests/engine/tiny.py): the text encoder still sees
the published sequence length, which is what its cost depends on.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

PROMPT = "punchy analog kick"


# -- published configurations ---------------------------------------------------------------
def stable_audio_open():
    from diffusers import (
        AutoencoderOobleck,
        CosineDPMSolverMultistepScheduler,
        StableAudioDiTModel,
        StableAudioPipeline,
        StableAudioProjectionModel,
    )
    from transformers import T5Config, T5EncoderModel

    from tests.engine import tiny

    return StableAudioPipeline(
        transformer=StableAudioDiTModel(),
        vae=AutoencoderOobleck(),
        text_encoder=T5EncoderModel(
            T5Config(vocab_size=32128, d_model=768, d_ff=3072, d_kv=64, num_heads=12, num_layers=12)
        ),
        tokenizer=tiny.t5_tokenizer(max_length=128),
        projection_model=StableAudioProjectionModel(
            text_encoder_dim=768, conditioning_dim=768, min_value=0, max_value=512
        ),
        scheduler=CosineDPMSolverMultistepScheduler(
            sigma_min=0.3,
            sigma_max=500.0,
            solver_order=2,
            prediction_type="v_prediction",
            sigma_data=1.0,
            sigma_schedule="exponential",
        ),
    )


def longcat_audio_dit():
    from diffusers import (
        FlowMatchEulerDiscreteScheduler,
        LongCatAudioDiTPipeline,
        LongCatAudioDiTTransformer,
        LongCatAudioDiTVae,
    )
    from transformers import UMT5Config, UMT5EncoderModel

    from tests.engine import tiny

    return LongCatAudioDiTPipeline(
        vae=LongCatAudioDiTVae(strides=[2, 4, 4, 8, 8]),
        text_encoder=UMT5EncoderModel(
            UMT5Config(vocab_size=256384, d_model=768, d_ff=2048, d_kv=64, num_heads=12, num_layers=12)
        ),
        tokenizer=tiny.t5_tokenizer(max_length=512),
        transformer=LongCatAudioDiTTransformer(),
        scheduler=FlowMatchEulerDiscreteScheduler(shift=1.0, invert_sigmas=True),
    )


FAMILIES = {
    "StableAudioPipeline": stable_audio_open,
    "LongCatAudioDiTPipeline": longcat_audio_dit,
}
FIXED_WINDOW = {"StableAudioPipeline"}  # families that render their whole training window by default


# -- one configuration, in its own process ----------------------------------------------------
def worker(folder: str, cfg: dict) -> dict:
    import diffusers
    import torch

    from diffhost.engine import load_model
    from diffhost.engine.request import GenerationRequest

    getattr(diffusers, cfg["family"])  # imports are not load time: a running app has them already
    torch.manual_seed(0)
    cuda = cfg["device"].startswith("cuda")
    t0 = time.perf_counter()
    model = load_model(folder, device=cfg["device"], dtype=cfg["dtype"], fit_window=cfg["fit"])
    if cuda:
        torch.cuda.synchronize()
    load_s = time.perf_counter() - t0
    if cfg.get("untiled") and hasattr(model, "decode_tile_frames"):
        model.decode_tile_frames = 1 << 30  # one decode of the whole window: the old peak
    if cfg["compile"]:
        denoiser = getattr(model.pipe, "transformer", None) or model.pipe.unet
        denoiser.compile()
    stamps: list[float] = []
    req = GenerationRequest(
        prompt=PROMPT,
        length=cfg["length"],
        steps=cfg["steps"],
        seed=1,
        sample_rate=max(8000, model.info.native_sample_rate),  # native for the published models
    )
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    t1 = time.perf_counter()
    result = model.render(req, on_progress=lambda p: stamps.append(time.perf_counter()))
    if cuda:
        torch.cuda.synchronize()
    render_s = time.perf_counter() - t1
    gaps = [b - a for a, b in zip(stamps, stamps[1:], strict=False)]
    peak = (
        torch.cuda.max_memory_allocated() / 2**30
        if cuda
        else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux
    )
    return {
        **cfg,
        "load_s": load_s,
        "render_s": render_s,
        # One step has no gap to measure: its time from the call (text encoding included) stands in.
        "s_per_step": statistics.median(gaps) if gaps else (stamps[0] - t1 if stamps else render_s),
        "first_step_s": stamps[0] - t1 if stamps else None,
        "after_steps_s": render_s - (stamps[-1] - t1) if stamps else None,
        "audio_s_per_s": cfg["length"] / render_s,
        "peak_gib": peak,
        "window_s": model.window_s(req),
        "shape": list(result.audio.shape),
        "params_m": round(
            sum(
                p.numel()
                for c in model.pipe.components.values()
                if isinstance(c, torch.nn.Module)
                for p in c.parameters()
            )
            / 1e6
        ),
    }


def run_worker(folder: Path, cfg: dict) -> dict | None:
    cmd = [sys.executable, __file__, "--worker", str(folder), json.dumps(cfg)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        print(f"  failed: {cfg} -> {proc.stderr.strip().splitlines()[-1:]}", flush=True)
        return None
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build(family: str, folder: Path) -> float:
    """Build and save in a subprocess, so its memory is gone before the measurements."""
    code = (
        "import sys, torch, warnings; warnings.simplefilter('ignore'); "
        f"sys.path.insert(0, {str(ROOT)!r}); from bench.fullsize import FAMILIES; torch.manual_seed(0); "
        f"FAMILIES[{family!r}]().save_pretrained({str(folder)!r}, safe_serialization=True)"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    ap.add_argument("--steps", type=int, default=3)
    ap.add_argument("--lengths", type=float, nargs="*", default=[2.0, 10.0])
    ap.add_argument("--device", default=None, help="cpu or cuda (default: cuda when present)")
    ap.add_argument(
        "--dtypes", nargs="*", default=None, help="default: float32 (+ float16, bfloat16 on CUDA)"
    )
    ap.add_argument(
        "--compile", action="store_true", help="also torch.compile the denoiser (default on CUDA)"
    )
    ap.add_argument("--untiled", action="store_true", help="also decode the full window untiled (old peak)")
    ap.add_argument(
        "--workdir", default=None, help="where the random-weight folders go (default: a temp dir)"
    )
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        warnings.simplefilter("ignore")
        print(json.dumps(worker(args.worker[0], json.loads(args.worker[1]))))
        return

    import torch

    device = args.device or ("cuda" if torch.cuda.is_available() else "cpu")
    cuda = device.startswith("cuda")
    dtypes = args.dtypes or (["float32", "float16", "bfloat16"] if cuda else ["float32"])
    compiles = [False, True] if (args.compile or cuda) else [False]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="diffhost-fullsize-"))
    print(
        f"device {device}, torch {torch.__version__}, {os.cpu_count()} cpus, threads {torch.get_num_threads()}"
    )
    print(f"steps {args.steps} (guided), lengths {args.lengths} s, weights in {work}\n", flush=True)
    try:
        for family in args.family:
            folder = work / family
            if not (folder / "model_index.json").is_file():
                print(f"{family}: building at published size ...", flush=True)
                print(f"  build + save {build(family, folder):.1f} s", flush=True)
            rows = []
            for dtype in dtypes:
                for comp in compiles:
                    for i, length in enumerate(args.lengths):
                        # A fixed window costs the same whatever the request's length: measure it once
                        # (the first length) and compare every fitted length against it.
                        fits = ([False] if i == 0 else []) + [True] if family in FIXED_WINDOW else [False]
                        for fit in fits:
                            cfg = {
                                "family": family,
                                "device": device,
                                "dtype": dtype,
                                "compile": comp,
                                "length": length,
                                "steps": args.steps,
                                "fit": fit,
                            }
                            row = run_worker(folder, cfg)
                            if row is not None:
                                rows.append(row)
                                _print_row(row, rows)
                    if args.untiled and family in FIXED_WINDOW:
                        cfg = {
                            "family": family,
                            "device": device,
                            "dtype": dtype,
                            "compile": comp,
                            "length": args.lengths[0],
                            "steps": 1,
                            "fit": False,
                            "untiled": True,
                        }
                        row = run_worker(folder, cfg)
                        if row is not None:
                            _print_row(row, rows)
            print(flush=True)
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _print_row(row: dict, rows: list[dict]) -> None:
    tag = "fitted" if row["fit"] else ("untiled" if row.get("untiled") else "window")
    base = next(
        (
            r
            for r in rows
            if not r["fit"]
            and not r.get("untiled")
            and (r["length"] == row["length"] or row["family"] in FIXED_WINDOW)
            and r["dtype"] == row["dtype"]
            and r["compile"] == row["compile"]
        ),
        None,
    )
    speed = f"  x{base['render_s'] / row['render_s']:.1f} vs window" if row["fit"] and base else ""
    print(
        f"  {row['family']} {row['params_m']} M {row['dtype']}{' compiled' if row['compile'] else ''} "
        f"{row['length']:g} s [{tag} {row['window_s']:.2f} s]: load {row['load_s']:.1f} s, "
        f"peak {row['peak_gib']:.2f} GiB, {row['s_per_step']:.2f} s/step, "
        f"after steps {row['after_steps_s']:.1f} s, render {row['render_s']:.1f} s, "
        f"{row['audio_s_per_s']:.3f} audio s/s{speed}",
        flush=True,
    )


if __name__ == "__main__":
    main()
