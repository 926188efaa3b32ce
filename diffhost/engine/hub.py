"""Fetching a pipeline from the Hugging Face hub: exactly the files its components need, nothing else.

A published repo often holds more than the diffusers pipeline: stabilityai/stable-audio-open-1.0
keeps its 4.85 GB stable-audio-tools checkpoint (`model.safetensors`, `model.ckpt`) at the root
next to the diffusers components, and many repos carry pickled `.bin` twins and fp16 variants of
every weight file. The plan reads `model_index.json` for the component folders and takes, per
component, its configs and tokenizer files plus one safetensors copy of its weights (the shards a
`*.safetensors.index.json` names, or the single default file), never pickles, never variants.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from pathlib import Path, PurePosixPath
from typing import Any

from diffhost.engine.errors import ModelLoadError

# Small files a component needs besides its weights: configs, tokenizer vocabularies and models, and
# the chat template transformers saves beside a tokenizer (chat_template.jinja, as ACE-Step's Qwen
# tokenizer publishes it): without it the loaded tokenizer differs from the published one.
_CONFIG_SUFFIXES = (".json", ".txt", ".model", ".tiktoken", ".jinja")
# Default (non-variant) weight file stems: diffusers models, then transformers models.
_WEIGHT_STEMS = ("diffusion_pytorch_model", "model")
_PICKLE_SUFFIXES = (".bin", ".pt", ".pth", ".ckpt", ".pkl", ".msgpack", ".h5")


def components(model_index: dict) -> list[str]:
    """The component folders model_index.json names (entries like "vae": ["diffusers", "AutoencoderOobleck"])."""
    out = []
    for key, value in model_index.items():
        if key.startswith("_") or not isinstance(value, list) or len(value) != 2:
            continue
        if value[0] is None or value[1] is None:  # an optional component this pipeline leaves out
            continue
        out.append(key)
    return sorted(out)


def plan_download(
    repo: str,
    files: Iterable[str],
    model_index: dict,
    read_json: Callable[[str], dict],
) -> list[str]:
    """The repo paths to fetch for the pipeline model_index.json describes.

    files: every path in the repo (the hub's listing); read_json(path) reads one of them (only
    sharded-weight indexes are read). Raises ModelLoadError when a component's weights exist only as
    pickles, or when a component folder is missing, before anything large is fetched.
    """
    listing = sorted(set(files))
    plan = ["model_index.json"]
    for comp in components(model_index):
        own = [PurePosixPath(f) for f in listing if PurePosixPath(f).parent == PurePosixPath(comp)]
        if not own:
            raise ModelLoadError(
                f"model {repo}: model_index.json names component {comp}/, but the repo has no such folder"
            )
        names = {p.name for p in own}
        plan += [str(p) for p in own if p.suffix in _CONFIG_SUFFIXES and not _is_variant_index(p.name)]
        weights = _weights(comp, names, read_json)
        if weights is None and any(p.suffix in _PICKLE_SUFFIXES for p in own):
            pickles = ", ".join(sorted(p.name for p in own if p.suffix in _PICKLE_SUFFIXES))
            raise ModelLoadError(
                f"model {repo}: component {comp}/ publishes only pickled weights ({pickles}); diffhost loads "
                "safetensors only and never unpickles. Convert it locally and load the folder instead."
            )
        plan += weights or []
    return sorted(dict.fromkeys(plan))


def _weights(comp: str, names: set[str], read_json: Callable[[str], dict]) -> list[str] | None:
    for stem in _WEIGHT_STEMS:
        index = f"{stem}.safetensors.index.json"
        if index in names:
            shards = sorted(set(read_json(f"{comp}/{index}").get("weight_map", {}).values()))
            missing = [s for s in shards if s not in names]
            if missing:
                raise ModelLoadError(
                    f"component {comp}/: {index} names shards the repo lacks: {', '.join(missing)}"
                )
            return [f"{comp}/{index}", *(f"{comp}/{s}" for s in shards)]
        if f"{stem}.safetensors" in names:
            return [f"{comp}/{stem}.safetensors"]
    return None


def _is_variant_index(name: str) -> bool:
    """The shard index of a variant we do not fetch, in either naming diffusers uses.

    diffusion_pytorch_model.fp16.safetensors.index.json, or model.safetensors.index.fp16.json (as
    Sana's and Kandinsky 3's text encoders publish it).
    """
    if name.endswith(".safetensors.index.json"):
        return name.count(".") > 3
    return ".safetensors.index." in name and name.endswith(".json")


# -- fetching ---------------------------------------------------------------------------
def download(repo_id: str, *, endpoint: str | None = None, cache_dir: Path | None = None) -> tuple[Path, str]:
    """Fetch the planned files of repo_id (or find them in the local cache when offline).

    Returns the snapshot folder and its commit hash. endpoint / cache_dir default to
    huggingface_hub's own (HF_ENDPOINT, HF_HUB_CACHE).
    """
    where: dict[str, Any] = {"endpoint": endpoint, "cache_dir": cache_dir}
    from huggingface_hub.errors import GatedRepoError, RepositoryNotFoundError, RevisionNotFoundError

    try:
        return _download_online(repo_id, **where)
    except GatedRepoError:
        raise ModelLoadError(gated_message(repo_id)) from None
    except RepositoryNotFoundError:
        raise ModelLoadError(
            f"model {repo_id}: no such repository on the Hugging Face hub, or it is private. Check the name; "
            "for a private repo log in with `hf auth login` or set HF_TOKEN."
        ) from None
    except RevisionNotFoundError as exc:
        raise ModelLoadError(f"model {repo_id}: {exc}") from None
    except ModelLoadError:
        raise
    except Exception as online_exc:  # offline, hub unreachable: the local cache may have it
        try:
            return _download_cached(repo_id, cache_dir)
        except Exception:
            raise ModelLoadError(
                f"model {repo_id}: could not reach the Hugging Face hub ({type(online_exc).__name__}: "
                f"{online_exc}) and it is not in the local cache. Download it once online, or pass a local folder."
            ) from None


def gated_message(repo_id: str) -> str:
    return (
        f"model {repo_id}: this repository is gated. Accept its licence at https://huggingface.co/{repo_id} "
        "(logged in to your Hugging Face account), then log in on this machine with `hf auth login` "
        "or set the HF_TOKEN environment variable to an access token, and try again."
    )


def _download_online(repo_id: str, *, endpoint: str | None, cache_dir: Path | None) -> tuple[Path, str]:
    from huggingface_hub import HfApi, hf_hub_download, snapshot_download

    info = HfApi(endpoint=endpoint).model_info(repo_id)
    commit = str(info.sha)
    files = [s.rfilename for s in info.siblings or []]
    if "model_index.json" not in files:
        raise ModelLoadError(
            f"model {repo_id}: the repository has no model_index.json, so it is not a diffusers pipeline"
        )

    def read_json(path: str) -> dict:
        return json.loads(
            Path(
                hf_hub_download(repo_id, path, revision=commit, endpoint=endpoint, cache_dir=cache_dir)
            ).read_text()
        )

    plan = plan_download(repo_id, files, read_json("model_index.json"), read_json)
    folder = snapshot_download(
        repo_id, revision=commit, allow_patterns=plan, endpoint=endpoint, cache_dir=cache_dir
    )
    return Path(folder), commit


def _download_cached(repo_id: str, cache_dir: Path | None) -> tuple[Path, str]:
    from huggingface_hub import snapshot_download

    folder = Path(snapshot_download(repo_id, local_files_only=True, cache_dir=cache_dir))
    if not (folder / "model_index.json").is_file():
        raise FileNotFoundError(folder / "model_index.json")
    return folder, folder.name  # a snapshot folder is named for its commit
