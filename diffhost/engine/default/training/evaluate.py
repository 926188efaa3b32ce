"""Quality evaluation of the default model: `python -m diffhost.engine.default.training.evaluate --n 40`.

`--part one-shots` (v1, below), `--part loops` (v2, evaluate_loops.py) or `--part all` (default).
One-shots are measured on prompts the model never saw in training (EVAL_TEMPLATES, alias words):
- category accuracy with an independent classifier trained only on the synth's real clips;
- descriptor following on paired draws (centroid, decay time, pitch);
- clean tails, diversity across seeds, no NaN or clipping, and seed-clip strength ordering.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import dataclass

import numpy as np
import torch
from torch.nn import functional as F

from diffhost.engine.default.model import features
from diffhost.engine.default.music import synth
from diffhost.engine.default.text import captions
from diffhost.engine.default.text.captions import CATEGORY_WORDS, DESCRIPTOR_WORDS, EVAL_TEMPLATES
from diffhost.engine.model import Model
from diffhost.engine.request import SeedClip

SR = synth.SR
EVAL_LENGTH = {c: 1.0 for c in synth.DRUMS} | {c: 1.5 for c in synth.TONAL} | {c: 2.0 for c in synth.EFFECTS}
EVAL_LENGTH["cymbal"] = 2.0
SHORT_ONE_SHOTS = ("kick", "snare", "clap", "rim", "closed_hat", "tom", "pluck", "lead", "chord", "zap")
DECAY_CATEGORIES = (
    "kick",
    "snare",
    "clap",
    "rim",
    "closed_hat",
    "open_hat",
    "tom",
    "cymbal",
    "bass",
    "pluck",
    "lead",
    "chord",
    "impact",
)
PITCH_CATEGORIES = ("kick", "tom", "rim", "bass", "pluck", "lead", "chord", "pad", "impact")
ALIAS_PROMPTS = {
    "bass drum": "kick", "handclap": "clap", "hihat": "closed_hat", "808": "kick",
    "shaker-like": "closed_hat", "whoosh": "sweep", "finger snap": "clap", "explosion": "impact",
    "swoosh": "sweep", "tambourine": "closed_hat", "thump": "kick", "blip": "zap",
}  # fmt: skip


# -- measurements -------------------------------------------------------------------------
def centroid_hz(audio: np.ndarray) -> float:
    x = audio.mean(0) if audio.ndim == 2 else audio
    mag = np.abs(np.fft.rfft(x * np.hanning(x.size)))
    f = np.fft.rfftfreq(x.size, 1 / SR)
    return float((mag * f).sum() / (mag.sum() + 1e-12))


def decay_time_s(audio: np.ndarray, drop_db: float = 30.0) -> float:
    """Time from the envelope peak until it stays drop_db below it (10 ms RMS frames)."""
    x = audio.mean(0) if audio.ndim == 2 else audio
    hop = SR // 100
    n = x.size // hop
    env = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-20)
    peak = int(np.argmax(env))
    above = np.nonzero(env[peak:] > env[peak] - drop_db)[0]
    return float((above[-1] + 1) * hop / SR) if above.size else 0.0


def pitch_hz(audio: np.ndarray) -> float:
    """Dominant frequency (25 Hz .. 5 kHz) of the first half second."""
    x = (audio.mean(0) if audio.ndim == 2 else audio)[: SR // 2]
    n = 1 << 15
    mag = np.abs(np.fft.rfft(x * np.hanning(x.size), n=n))
    f = np.fft.rfftfreq(n, 1 / SR)
    band = (f >= 25) & (f <= 5000)
    return float(f[band][np.argmax(mag[band])])


def tail_db(audio: np.ndarray) -> float:
    """Peak of the last 10 % of the clip relative to the clip's peak, in dB."""
    x = np.abs(audio)
    tail = x[..., int(x.shape[-1] * 0.9) :]
    return float(20 * np.log10((tail.max() + 1e-12) / (x.max() + 1e-12)))


# -- the independent classifier -----------------------------------------------------------
@dataclass(frozen=True)
class Classifier:
    weight: torch.Tensor
    bias: torch.Tensor
    mean: torch.Tensor
    std: torch.Tensor

    def predict(self, audio: np.ndarray) -> str:
        f = (torch.tensor(features.clip_features(audio)) - self.mean) / self.std
        return synth.CATEGORIES[int((f @ self.weight.T + self.bias).argmax())]


def train_classifier(per_category: int, seed: int = 99) -> Classifier:
    """Softmax regression on log-mel features of real synth clips (never the model's output)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for k, cat in enumerate(synth.CATEGORIES):
        for _ in range(per_category):
            length = EVAL_LENGTH[cat] * rng.uniform(0.8, 1.2)
            xs.append(features.clip_features(synth.render(synth.random_sound(rng, cat), length, rng)))
            ys.append(k)
    x = torch.tensor(np.stack(xs))
    y = torch.tensor(ys)
    mean, std = x.mean(0), x.std(0) + 1e-3
    x = (x - mean) / std
    torch.manual_seed(seed)
    w = torch.zeros(len(synth.CATEGORIES), x.shape[1], requires_grad=True)
    b = torch.zeros(len(synth.CATEGORIES), requires_grad=True)
    opt = torch.optim.Adam([w, b], lr=0.01)
    for _ in range(300):
        loss = F.cross_entropy(x @ w.T + b, y) + 1e-3 * (w**2).sum()
        opt.zero_grad()
        loss.backward()
        opt.step()
    return Classifier(w.detach(), b.detach(), mean, std)


# -- the evaluation -----------------------------------------------------------------------
def _eval_prompt(cat: str, rng: np.random.Generator) -> str:
    names = CATEGORY_WORDS[cat]
    words = []
    for name in rng.permutation(list(DESCRIPTOR_WORDS))[: rng.integers(0, 3)]:
        pool = DESCRIPTOR_WORDS[name][rng.integers(2)]
        words.append(pool[rng.integers(len(pool))])
    t = EVAL_TEMPLATES[rng.integers(len(EVAL_TEMPLATES))]
    return " ".join(t.format(d=" ".join(words), c=names[rng.integers(len(names))]).split())


def evaluate(model: Model, n: int = 20, seed: int = 7, classifier_clips: int = 40, log=print) -> dict:
    rng = np.random.default_rng(seed)
    t0 = time.perf_counter()
    clf = train_classifier(classifier_clips)
    log(f"classifier trained ({time.perf_counter() - t0:.0f} s)")

    def gen(prompt, cat, **kw):
        return model.generate(
            prompt, sample_rate=SR, length=EVAL_LENGTH[cat], seed=int(rng.integers(2**31)), **kw
        )

    # Category accuracy, tails, NaN/clipping.
    per_cat, tails, bad = {}, [], 0
    for cat in synth.CATEGORIES:
        hits = 0
        for _ in range(n):
            audio = gen(_eval_prompt(cat, rng), cat)
            hits += clf.predict(audio) == cat
            if not np.all(np.isfinite(audio)) or np.max(np.abs(audio)) > 1.0:
                bad += 1
            if cat in SHORT_ONE_SHOTS:
                tails.append(tail_db(audio))
        per_cat[cat] = hits / n
    log(f"accuracy done ({time.perf_counter() - t0:.0f} s)")

    alias = {}
    for word, cat in ALIAS_PROMPTS.items():
        got = [clf.predict(gen(word, cat)) for _ in range(max(2, n // 4))]
        alias[word] = {"expected": cat, "accuracy": float(np.mean([g == cat for g in got]))}

    # Descriptor following on paired draws.
    def paired(desc: str, cats, measure) -> dict:
        wins = {}
        for cat in cats:
            w = 0
            for _ in range(n):
                hi = measure(gen(captions.describe(cat, **{desc: +1}), cat))
                lo = measure(gen(captions.describe(cat, **{desc: -1}), cat))
                w += hi > lo
            wins[cat] = w / n
        return wins

    bright = paired("bright", synth.CATEGORIES, centroid_hz)
    decay = paired("decay", DECAY_CATEGORIES, decay_time_s)
    pitch = paired("pitch", PITCH_CATEGORIES, pitch_hz)
    log(f"descriptors done ({time.perf_counter() - t0:.0f} s)")

    # Diversity: feature distance across seeds vs. the synth's own noise (same parameters, new noise).
    div_model, div_noise = [], []
    for cat in synth.CATEGORIES:
        prompt = CATEGORY_WORDS[cat][0]
        a = features.clip_features(gen(prompt, cat))
        b = features.clip_features(gen(prompt, cat))
        div_model.append(float(np.linalg.norm(a - b)))
        s = synth.random_sound(rng, cat)
        x1 = features.clip_features(synth.render(s, EVAL_LENGTH[cat], np.random.default_rng(1)))
        x2 = features.clip_features(synth.render(s, EVAL_LENGTH[cat], np.random.default_rng(2)))
        div_noise.append(float(np.linalg.norm(x1 - x2)))

    # Strength: variations stay closer to the seed clip at 0.3 than at 0.9.
    closer = []
    for cat in synth.CATEGORIES:
        s = synth.random_sound(rng, cat)
        ref = synth.render(s, EVAL_LENGTH[cat], rng)
        f_ref = features.clip_features(ref)
        clip = SeedClip(ref, SR)
        d = {}
        for strength in (0.3, 0.9):
            outs = gen(clip, cat, strength=strength, variations=max(2, n // 5))
            d[strength] = np.mean([np.linalg.norm(features.clip_features(o) - f_ref) for o in outs])
        closer.append(d[0.3] < d[0.9])
    log(f"done ({time.perf_counter() - t0:.0f} s)")

    accuracy = float(np.mean(list(per_cat.values())))
    report = {
        "n_per_category": n,
        "category_accuracy": accuracy,
        "category_accuracy_per_category": per_cat,
        "alias_accuracy": float(np.mean([v["accuracy"] for v in alias.values()])),
        "alias_words": alias,
        "bright_above_dark": float(np.mean(list(bright.values()))),
        "long_above_short": float(np.mean(list(decay.values()))),
        "low_below_high": float(np.mean(list(pitch.values()))),
        "descriptor_pairs": {"bright": bright, "decay": decay, "pitch": pitch},
        "tail_db_worst": float(np.max(tails)),
        "tail_share_below_minus40db": float(np.mean(np.array(tails) <= -40.0)),
        "diversity_model_over_noise": float(np.mean(div_model) / (np.mean(div_noise) + 1e-9)),
        "diversity_pairs_above_noise": float(np.mean(np.array(div_model) > np.array(div_noise))),
        "nan_or_clipped": bad,
        "strength_03_closer_than_09": float(np.mean(closer)),
        "eval_seconds": round(time.perf_counter() - t0, 1),
    }
    return report


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description="Evaluate the embedded default model")
    p.add_argument("--n", type=int, default=20, help="clips per category (and pairs per descriptor)")
    p.add_argument("--model", default=None, help="model spec (default: the embedded model)")
    p.add_argument("--out", default=None, help="write the JSON report here")
    p.add_argument("--part", choices=("one-shots", "loops", "all"), default="all")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument(
        "--classifier-clips", type=int, default=None, help="ground-truth clips per class for the classifiers"
    )
    p.add_argument(
        "--per-class", type=int, default=None, help="loops: held-out prompts per class (default n / 2)"
    )
    p.add_argument(
        "--classifier",
        default=None,
        help="the loops' style classifier, saved by bench/default_compare.py --save-classifier (else trained)",
    )
    args = p.parse_args(argv)
    from diffhost.engine.loader import load_model

    torch.set_num_threads(args.threads)
    model = load_model(args.model, device="cpu")
    log = lambda m: print(m, flush=True)  # noqa: E731
    report = {}
    if args.part in ("one-shots", "all"):
        kw = {"classifier_clips": args.classifier_clips} if args.classifier_clips else {}
        report["one_shots"] = evaluate(model, n=args.n, log=log, **kw)
    if args.part in ("loops", "all"):
        from diffhost.engine.default.training.evaluate_loops import evaluate_loops

        kw = {"classifier_clips": args.classifier_clips} if args.classifier_clips else {}
        if args.classifier:
            kw["classifier"] = torch.load(args.classifier, weights_only=False)
        report["loops"] = evaluate_loops(model, n=args.n, log=log, per_class=args.per_class, **kw)
    text = json.dumps(report, indent=2)
    print(text)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
