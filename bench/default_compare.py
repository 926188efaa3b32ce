"""Two sets of default-model weights judged side by side: `python bench/default_compare.py OLD NEW --n 20`.

Both are evaluated by evaluate_loops with the same seeds and ONE classifier (trained once, only on
audio rendered from the pattern generators' ground truth), and the figures that decide whether new
weights may ship are printed in one table: recognition per family, the classifier's own accuracy on
fresh ground truth per family, mix gaps, DC, tempo, seams, seed rhythm and melody. OLD and NEW are
weights folders (or model specs load_model understands), or JSON reports written before (`evaluate
--part loops --out X.json`, so the two can run in parallel; with --classifier FILE their clips, whose
features the reports keep, are judged again by that classifier). --out writes both reports.
--classifier FILE uses a classifier saved before (--save-classifier FILE saves the one trained).
"""

from __future__ import annotations

import argparse
import json
import time


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("old")
    p.add_argument("new")
    p.add_argument("--n", type=int, default=20, help="evaluate_loops' n: n // 2 held-out prompts per class")
    p.add_argument("--classifier-clips", type=int, default=60, help="ground-truth clips per class")
    p.add_argument("--per-class", type=int, default=None, help="held-out prompts per class (default n / 2)")
    p.add_argument("--seed", type=int, default=11)
    p.add_argument("--out", default=None)
    p.add_argument("--classifier", default=None, help="a classifier saved with --save-classifier")
    p.add_argument("--save-classifier", default=None)
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    from diffhost.engine import load_model
    from diffhost.engine.default.training.evaluate_loops import evaluate_loops, recognition, train_classifier

    t0 = time.perf_counter()
    clf = None
    reports = {}
    for name in ("old", "new"):
        spec = getattr(args, name)
        if spec.endswith(".json"):
            with open(spec) as f:
                data = json.load(f)
            reports[name] = data.get("loops", data)
            if args.classifier:  # the same clips, judged again by the classifier given
                clf = clf or torch.load(args.classifier, weights_only=False)
                r = reports[name]
                r.update(recognition(clf, r["class_features"], r["ground_truth_features"]))
            continue
        if clf is None:
            if args.classifier:
                clf = torch.load(args.classifier, weights_only=False)
            else:
                clf = train_classifier(args.classifier_clips)
                print(f"classifier: {args.classifier_clips} clips per class ({time.perf_counter() - t0:.0f} s)")
            if args.save_classifier:
                torch.save(clf, args.save_classifier)
        model = load_model(spec, device="cpu")
        reports[name] = evaluate_loops(
            model, n=args.n, seed=args.seed, classifier=clf, log=print, per_class=args.per_class
        )
        print(f"{name}: {reports[name]['eval_seconds']} s", flush=True)
    old, new = reports["old"], reports["new"]
    rows = [
        ("class accuracy", "class_accuracy"),
        ("worst family", "family_accuracy_worst"),
        ("classifier on fresh ground truth", "classifier_ground_truth_accuracy"),
        ("tempo within 2 %", "tempo_within_2pct"),
        ("seams below p99.9 step", "seam_below_p999_step"),
        ("first/last beat within 1 LU", "first_last_beat_within_1lu"),
        ("worst part gap dB", "mix_worst_part_gap_db"),
        ("worst drum-lane gap dB", "mix_worst_drum_lane_gap_db"),
        ("DC worst dBFS", "dc_dbfs_worst"),
        ("phrase end worst dB", "phrase_end_db_worst"),
        ("no-style pads beatless", "no_style_pads_and_textures_beatless"),
        ("issue prompts right style", "issue_prompts_right_style"),
        ("nan or clipped", "nan_or_clipped"),
        ("heads: trained instrument words", "voice_words_by_heads_trained_words"),
        ("heads: held-out instrument phrases", "voice_words_by_heads_held_out"),
    ]
    print("\n| measure | old | new |\n|---|---|---|")
    for label, key in rows:
        print(f"| {label} | {_fmt(old.get(key))} | {_fmt(new.get(key))} |")
    for strength in ("0.3", "0.9"):  # JSON keys are text
        for label, key in (("rhythm", "seed_rhythm_onsets_within_30ms"), ("melody", "seed_melody_pitch_class_match")):
            o, w = ({str(k): v for k, v in r[key].items()} for r in (old, new))
            print(f"| seed {label} at {strength} | {_fmt(o[strength])} | {_fmt(w[strength])} |")
    per = new.get("per_class", max(1, args.n // 2))
    print(f"\n| family (clips: {per} per class) | classifier on ground truth | old | new |\n|---|---|---|---|")
    for fam, acc in new["class_accuracy_per_family"].items():
        gt = new["classifier_ground_truth_per_family"].get(fam)
        print(f"| {fam} | {_fmt(gt)} | {_fmt(old['class_accuracy_per_family'].get(fam))} | {_fmt(acc)} |")
    if args.out:
        with open(args.out, "w") as f:
            json.dump(reports, f, indent=2, default=str)
    return 0


def _fmt(v) -> str:
    return "-" if v is None else f"{v:.3f}" if isinstance(v, float) else str(v)


if __name__ == "__main__":
    raise SystemExit(main())
