"""Full-size check: every family at its published size, random weights, through load_model.

Random weights cost the same time and memory as trained ones, so this measures what a user's
machine will do with the real checkpoint without downloading it. For each family the script
builds the pipeline from its published configuration (bench/published.py: seeded random weights,
and the source of every number), saves it as a diffusers folder (safetensors) and then, for every
configuration in its own subprocess (so peak memory is that configuration's own):

- load time: load_model on the folder (read + build + cast + move to the device);
- peak memory: the process's peak RSS (CPU) or torch's peak allocation (CUDA), load included;
- s/step: the median time between denoising steps at the model's default guidance (so a guided
  family runs its batch of two); with 2 steps that is the second step, so a compiled run's
  first step (which includes compilation) is not in it;
- audio s/s: seconds of audio per second of wall time for the whole render (text encoding,
  steps, decode).

Configurations, each family one at a time:
- CPU: float32, bfloat16, and float32 with torch.compile on the denoiser (`--compile`). A
  configuration that fails prints its error and the sweep goes on: the README says which and why.
- CUDA when torch sees a GPU: float32, float16, bfloat16, each also compiled. Without one the
  CUDA pass is skipped with the reason printed (torch's build and `torch.cuda.is_available()`).
- Stable Audio Open renders its whole 47.55 s window by default; that costs minutes a step on a
  CPU, so only the fitted window (`fit_window=True`) runs unless `--window` asks for both.

Threads: `--threads` (default 1) sets OMP/MKL threads, torch's intra-op threads and inductor's
compile workers in every subprocess, so the figures are one core's and a shared machine stays
usable. Each row prints the 1-minute load average before and after it (os.getloadavg), because
on a shared machine the absolute times move with it; compare ratios within one run.

    python bench/fullsize.py [--family AudioLDMPipeline ...] [--steps 2] [--lengths 2]
                             [--device cpu|cuda|all] [--dtypes float32 bfloat16] [--compile]
                             [--threads 1] [--window] [--untiled] [--jsonl FILE] [--workdir DIR]
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


# -- published configurations (bench/published.py says where each number comes from) -------
from bench.published import BUILDERS as FAMILIES  # noqa: E402

FIXED_WINDOW = {"StableAudioPipeline"}  # families that render their whole training window by default


# -- one configuration, in its own process ----------------------------------------------------
def thread_env(threads: int) -> dict[str, str]:
    """The environment every subprocess runs in: `threads` cores for math and for compiling."""
    n = str(threads)
    return {
        **os.environ,
        "OMP_NUM_THREADS": n,
        "MKL_NUM_THREADS": n,
        "TORCHINDUCTOR_COMPILE_THREADS": n,
        "TOKENIZERS_PARALLELISM": "false",
    }


def worker(folder: str, cfg: dict) -> dict:
    import diffusers
    import torch

    from diffhost.engine import load_model
    from diffhost.engine.request import GenerationRequest

    torch.set_num_threads(cfg["threads"])
    getattr(diffusers, cfg["family"])  # imports are not load time: a running app has them already
    torch.manual_seed(0)
    cuda = cfg["device"].startswith("cuda")
    load_before = os.getloadavg()[0]
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
        prompt=PROMPT if model.info.supports_prompt else None,  # DanceDiffusion is unconditional
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
        "guided": model.info.supports_guidance and (model.info.default_guidance or 1.0) > 1.0,
        # Graphs dynamo compiled over the render: more than the denoiser's one (plus its guided
        # twin) means steps recompiled, and the step times include compilation.
        "graphs": int(torch._dynamo.utils.counters["stats"]["unique_graphs"]) if cfg["compile"] else None,
        "load_avg_before": load_before,
        "load_avg_after": os.getloadavg()[0],
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


def run_worker(folder: Path, cfg: dict) -> dict:
    """One configuration in its own process; a failure comes back as a row with its error."""
    cmd = [sys.executable, __file__, "--worker", str(folder), json.dumps(cfg)]
    proc = subprocess.run(cmd, capture_output=True, text=True, env=thread_env(cfg["threads"]))
    if proc.returncode != 0:
        lines = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        # The exception line, not a warning or the traceback's frames.
        error = next((ln for ln in reversed(lines) if "Error" in ln or "Exception" in ln), None)
        return {**cfg, "error": (error or (lines[-1] if lines else f"exit {proc.returncode}"))[:400]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def build(family: str, folder: Path, threads: int) -> float:
    """Build and save in a subprocess, so its memory is gone before the measurements."""
    code = (
        "import sys, torch, warnings; warnings.simplefilter('ignore'); "
        f"torch.set_num_threads({threads}); "
        f"sys.path.insert(0, {str(ROOT)!r}); from bench.fullsize import FAMILIES; torch.manual_seed(0); "
        f"FAMILIES[{family!r}]().save_pretrained({str(folder)!r}, safe_serialization=True)"
    )
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], check=True, env=thread_env(threads))
    return time.perf_counter() - t0


def cuda_status() -> str | None:
    """None when a CUDA device is usable; otherwise why the CUDA pass is skipped."""
    import torch

    if torch.cuda.is_available():
        return None
    built = torch.version.cuda
    return (
        f"torch {torch.__version__} is a CPU-only build (torch.version.cuda is None)"
        if built is None
        else f"torch {torch.__version__} (CUDA {built}) sees no GPU: torch.cuda.is_available() is False"
    )


def configurations(device: str, args: argparse.Namespace) -> list[tuple[str, bool]]:
    """(dtype, compiled) pairs for one device."""
    cuda = device.startswith("cuda")
    dtypes = args.dtypes or (["float32", "float16", "bfloat16"] if cuda else ["float32", "bfloat16"])
    out = [] if args.compiled_only else [(d, False) for d in dtypes]
    if args.compile or args.compiled_only or cuda:
        # On CPU compile float32 only: one compiled row per family keeps the sweep short, and
        # compilation is the same work whatever the dtype.
        out += [(d, True) for d in (dtypes if cuda else dtypes[:1])]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--family", nargs="*", default=list(FAMILIES), choices=list(FAMILIES))
    ap.add_argument("--steps", type=int, default=2)
    ap.add_argument("--lengths", type=float, nargs="*", default=[2.0])
    ap.add_argument(
        "--device", default="all", help="cpu, cuda, or all (cpu, then cuda when present; the default)"
    )
    ap.add_argument("--dtypes", nargs="*", default=None, help="default: float32 bfloat16 (+ float16 on CUDA)")
    ap.add_argument("--compile", action="store_true", help="also torch.compile the denoiser (always on CUDA)")
    ap.add_argument(
        "--compiled-only", action="store_true", help="only the torch.compile rows (a second pass)"
    )
    ap.add_argument("--threads", type=int, default=1, help="CPU threads per configuration (default 1)")
    ap.add_argument("--window", action="store_true", help="also render Stable Audio Open's full window")
    ap.add_argument("--untiled", action="store_true", help="also decode the full window untiled (old peak)")
    ap.add_argument("--jsonl", default=None, help="append every row (and every failure) to this file")
    ap.add_argument(
        "--workdir", default=None, help="where the random-weight folders go (default: a temp dir)"
    )
    ap.add_argument("--keep", action="store_true", help="keep each family's folder after its rows")
    ap.add_argument("--worker", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.worker:
        warnings.simplefilter("ignore")
        print(json.dumps(worker(args.worker[0], json.loads(args.worker[1]))))
        return

    import torch

    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    work = Path(args.workdir or tempfile.mkdtemp(prefix="diffhost-fullsize-"))
    print(
        f"torch {torch.__version__}, {os.cpu_count()} cpus, {args.threads} thread(s) per configuration, "
        f"load average {os.getloadavg()[0]:.2f}"
    )
    print(f"steps {args.steps}, lengths {args.lengths} s, weights in {work}\n", flush=True)
    skip_cuda = cuda_status()
    if "cuda" in devices and skip_cuda:
        print(f"CUDA: skipped, {skip_cuda}\n", flush=True)
        devices = [d for d in devices if d != "cuda"]
    try:
        for family in args.family:
            folder = work / family
            if not (folder / "model_index.json").is_file():
                print(f"{family}: building at published size ...", flush=True)
                try:
                    print(f"  build + save {build(family, folder, args.threads):.1f} s", flush=True)
                except subprocess.CalledProcessError as exc:
                    print(f"  build failed: {exc}", flush=True)
                    _log(args.jsonl, {"family": family, "error": f"build failed: {exc}"})
                    continue
            rows: list[dict] = []
            for device in devices:
                for dtype, comp in configurations(device, args):
                    for length in args.lengths:
                        fits = [True] if family in FIXED_WINDOW else [False]
                        if family in FIXED_WINDOW and args.window:
                            fits = [False, True]
                        for fit in fits:
                            cfg = {
                                "family": family,
                                "device": device,
                                "dtype": dtype,
                                "compile": comp,
                                "length": length,
                                "steps": args.steps,
                                "fit": fit,
                                "threads": args.threads,
                            }
                            row = run_worker(folder, cfg)
                            _log(args.jsonl, row)
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
                            "threads": args.threads,
                        }
                        row = run_worker(folder, cfg)
                        _log(args.jsonl, row)
                        _print_row(row, rows)
            print(flush=True)
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)  # a sweep holds one family on disk at a time
    finally:
        if args.workdir is None:
            shutil.rmtree(work, ignore_errors=True)


def _log(path: str | None, row: dict) -> None:
    if path:
        with open(path, "a") as f:
            f.write(json.dumps({"date": time.strftime("%Y-%m-%d %H:%M:%S"), **row}) + "\n")


def _print_row(row: dict, rows: list[dict]) -> None:
    label = f"  {row['family']} {row['device']} {row['dtype']}{' compiled' if row['compile'] else ''} {row['length']:g} s"
    if "error" in row:
        print(f"{label}: FAILED: {row['error']}", flush=True)
        return
    tag = "fitted" if row["fit"] else ("untiled" if row.get("untiled") else "window")
    base = next(
        (
            r
            for r in rows
            if "error" not in r
            and not r["fit"]
            and not r.get("untiled")
            and r["device"] == row["device"]
            and r["dtype"] == row["dtype"]
            and r["compile"] == row["compile"]
        ),
        None,
    )
    speed = f"  x{base['render_s'] / row['render_s']:.1f} vs window" if row["fit"] and base else ""
    print(
        f"{label} [{tag} {row['window_s']:.2f} s, {row['params_m']} M, {'guided' if row['guided'] else 'unguided'}]: "
        f"load {row['load_s']:.1f} s, peak {row['peak_gib']:.2f} GiB, {row['s_per_step']:.2f} s/step "
        f"(first {row['first_step_s']:.1f} s), after steps {row['after_steps_s']:.1f} s, "
        f"render {row['render_s']:.1f} s, {row['audio_s_per_s']:.3f} audio s/s, "
        f"load avg {row['load_avg_before']:.2f}->{row['load_avg_after']:.2f}{speed}"
        + (f", {row['graphs']} graphs compiled" if row.get("graphs") is not None else ""),
        flush=True,
    )


if __name__ == "__main__":
    main()
