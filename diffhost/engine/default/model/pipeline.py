"""The embedded default model: one-shots (v1) and loops/phrases (v2), both by diffusion on CPU.

One-shots: diffusion in the synthesizer's 28-d parameter space (a category one-hot plus ten
controls) with a DDIM scheduler and classifier-free guidance; the synth renders the
result at 44.1 kHz stereo. A seed clip is encoded into the same space by a small
network, noised to the requested strength and denoised from there.

Loops and phrases (loops.py): diffusion over a parametric score, rendered with recorded
sounds and the synth. A router on the prompt embedding, the length (over 4 s), a tempo or
key, or a seed clip with a rhythm or a melody picks the loop path.
"""

from __future__ import annotations

import contextlib
import hashlib
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch

from diffhost.engine.audio import resample
from diffhost.engine.default.model import features
from diffhost.engine.default.model.loops import LoopMaker
from diffhost.engine.default.model.nets import ClipEncoder, ParamDenoiser, component_classes
from diffhost.engine.default.model.sampler import DDIMSampler, denoise
from diffhost.engine.default.music import arrange, synth
from diffhost.engine.default.text import captions
from diffhost.engine.default.text.textenc import TextEncoder
from diffhost.engine.errors import ModelLoadError, UnsupportedRequestError
from diffhost.engine.model import Model, StepMonitor
from diffhost.engine.request import GenerationRequest, ModelInfo, SeedClip

WEIGHTS_DIR = Path(__file__).resolve().parent.parent / "weights"
NAME = "diffhost-default"
FAMILY = "DiffhostDefaultPipeline"
# The family's earlier name, still in the model_index.json of folders trained before the rename and
# in the sidecars of their renders: it loads the same model (engine.adapters.ALIASES).
OLD_FAMILY_NAMES = ("DiffhostOneShotPipeline",)
MAX_LENGTH_S = 30.0


@contextlib.contextmanager
def _one_torch_thread() -> Iterator[None]:
    """This model's layers (a 1.6 M denoiser on batches of a few vectors) are too small to split
    across threads: a second intra-op thread saved nothing when idle (8 one-shots: 65 vs 67 ms) and
    cost 1.6x the CPU, and on a loaded 2-core machine its spin-waits turned 0.1 s renders into
    seconds. The engine's worker is the only thread that runs torch, so the setting is restored
    for whatever model renders next."""
    before = torch.get_num_threads()
    if before != 1:
        torch.set_num_threads(1)
    try:
        yield
    finally:
        if before != 1:
            torch.set_num_threads(before)


ONE_SHOT_NO_PARTS = "a one-shot is one sound: the file is its only part, so it has no stems and no MIDI"


class DefaultModel(Model):
    """Load with engine.load_model() (no spec) or DefaultModel.from_folder(path)."""

    def __init__(
        self, folder: Path, *, name: str, revision: str | None, device: torch.device, dtype: torch.dtype
    ):
        try:
            # The classes come from model_index.json, so a folder that names another network fails here,
            # plainly, instead of loading weights into the wrong one.
            classes = component_classes(folder)
            self.denoiser = classes.get("denoiser", ParamDenoiser).from_pretrained(
                folder / "denoiser", dtype=dtype
            )
            self.encoder = classes.get("encoder", ClipEncoder).from_pretrained(folder / "encoder")
            self.sampler = DDIMSampler.from_folder(folder / "scheduler")
            # v2 (loops and phrases); a v1-only folder still loads and makes one-shots up to 4 s.
            has_loops = (folder / "score_denoiser").is_dir()
            self.loops = LoopMaker(folder, self.sampler, device, dtype, classes) if has_loops else None
        except (OSError, ValueError, KeyError, RuntimeError) as exc:
            raise ModelLoadError(
                f"model {name}: cannot load the default model from {folder} ({exc})"
            ) from None
        self.denoiser = self.denoiser.to(device).eval()
        self.device, self.dtype = device, dtype
        self.text = TextEncoder()
        self.info = ModelInfo(
            name=name,
            family=FAMILY,
            native_sample_rate=synth.SR,
            channels=2,
            min_length_s=0.25,
            max_length_s=MAX_LENGTH_S if self.loops is not None else 4.0,
            default_steps=25,
            default_guidance=3.0,
            revision=revision or weights_hash(folder),
            device=str(device),
            dtype=str(dtype).replace("torch.", ""),
            makes_music=self.loops is not None,
            mix_versions=arrange.MIX_VERSIONS if self.loops is not None else (),
        )

    @classmethod
    def from_folder(cls, folder: Path, *, name: str, revision: str | None, device, dtype) -> DefaultModel:
        return cls(Path(folder), name=name, revision=revision, device=device, dtype=dtype)

    # -- rendering ---------------------------------------------------------------------
    @_one_torch_thread()  # a contextmanager is also a decorator: every render runs inside it
    @torch.inference_mode()
    def _render(
        self,
        request: GenerationRequest,
        *,
        seed: int,
        steps: int,
        guidance: float | None,
        monitor: StepMonitor,
    ) -> np.ndarray | tuple[np.ndarray, dict]:
        cond = self._embed(request.prompt)
        uncond = self._embed(request.negative_prompt)
        scale = 1.0 if guidance is None else float(guidance)
        if self.loops is not None:
            plan = self.loops.plan(request)
            if self.loops.wants_loop(request, plan, cond):
                # The score model learned the prompt's own words: v1's one-shot aliases would turn
                # "drum n bass" into "drum n kick drum" and "howling wind" into a noise sweep.
                return self.loops.render(
                    request,
                    plan,
                    self._embed(request.prompt, aliases=False),
                    self._embed(request.negative_prompt, aliases=False),
                    seed=seed,
                    steps=steps,
                    guidance=scale,
                    monitor=monitor,
                )
        if request.length > 4.0:
            raise UnsupportedRequestError(
                f"length: {request.length} s is out of range for one-shots of model {self.info.name}; "
                "valid is 0.25..4 s"
            )
        v = request.variations
        gen = torch.Generator("cpu").manual_seed(seed)
        noise = torch.randn((v, synth.PARAM_DIM), generator=gen) * request.temperature

        sched = self.sampler
        timesteps = sched.timesteps(steps)
        if request.seed_clip is not None:
            # Encode, noise to the strength's timestep, denoise only the remaining steps.
            x0 = self.encode_clip(request.seed_clip).expand(v, -1)
            start = min(steps, int(round(steps * (1.0 - request.strength))))
            timesteps = timesteps[start:]
            x = sched.add_noise(x0, noise, timesteps[:1].repeat(v)) if len(timesteps) else x0.clone()
        else:
            x = noise
        x = denoise(
            self.denoiser, sched, x, cond, uncond, timesteps=timesteps, steps=steps, guidance=scale,
            device=self.device, dtype=self.dtype, monitor=monitor,
        )

        audio = [
            synth.render(synth.decode_vector(x[i].numpy()), request.length, np.random.default_rng([seed, i]))
            for i in range(v)
        ]
        if request.stems or request.midi:
            # A one-shot is one sound played once: its only stem would be the file itself and it has
            # no score, so a producer gets the sample and a reason, not a copy and an empty MIDI file.
            return np.stack(audio), {"no_parts": ONE_SHOT_NO_PARTS}
        return np.stack(audio)

    def _embed(self, text: str | None, aliases: bool = True) -> torch.Tensor:
        """(1, 384) prompt embedding; no prompt = zeros, the unconditional embedding used in training.

        aliases: rewrite producer words to v1's caption words first (one-shots and routing)."""
        if not text or not text.strip():
            return torch.zeros(1, TextEncoder.dim)
        text = text.strip()
        return self.text.encode([captions.expand_aliases(text) if aliases else text])

    @torch.inference_mode()
    def encode_clip(self, clip: SeedClip) -> torch.Tensor:
        """A seed clip -> (1, 28) point in parameter space (category snapped to one-hot)."""
        audio = resample(clip.audio, clip.sample_rate, synth.SR)
        f = torch.tensor(features.clip_features(audio))[None]
        out = self.encoder(f)
        k = len(synth.CATEGORIES)
        onehot = -torch.ones(1, k)
        onehot[0, int(out[0, :k].argmax())] = 1.0
        return torch.cat([onehot, out[:, k:]], dim=1)

    def describe_clip(self, clip: SeedClip) -> synth.Sound:
        """What the encoder hears in a clip (category and controls): handy for the GUI and tests."""
        return synth.decode_vector(self.encode_clip(clip)[0].numpy())


def weights_hash(folder: Path) -> str:
    """sha256 over the safetensors files and configs: the revision a sidecar records.

    The recorded bank is not in this folder; its own hash goes into each loop's sidecar."""
    h = hashlib.sha256()
    for p in sorted(Path(folder).rglob("*")):
        if (
            p.is_file()
            and p.suffix in {".safetensors", ".json"}
            and p.name not in {"training.json", "SOUNDS.json"}
        ):
            h.update(p.relative_to(folder).as_posix().encode())
            h.update(p.read_bytes())
    return "sha256:" + h.hexdigest()[:16]


def load_default(device: torch.device, dtype: torch.dtype, folder: Path | None = None) -> DefaultModel:
    folder = folder or WEIGHTS_DIR
    if not (folder / "model_index.json").is_file():
        raise ModelLoadError(
            f"model {NAME}: weights are missing in {folder}; train them with `python -m diffhost.engine.default.training.train`"
        )
    return DefaultModel(folder, name=NAME, revision=None, device=device, dtype=dtype)
