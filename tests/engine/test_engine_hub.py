"""Download plans against published repo layouts, and the hub's answers (gated, missing, offline).

The layouts are the repos' file listings as the Hugging Face hub publishes them, with weight sizes
where a listing shows them; each says where it was read (hub tree pages and mirrors of the repos'
files, found with the project's code/docs search in December 2026) and what, if anything, is
assumed. The plan is a pure function of the listing and model_index.json, so it is checked without
the network. The hub's answers come from a local HTTP server speaking the hub's error protocol,
through huggingface_hub's own client.
"""

from __future__ import annotations

import fnmatch
import http.server
import json
import shutil
import threading

import pytest

from diffhost.engine.errors import ModelLoadError
from diffhost.engine.hub import components, download, plan_download

GB = 1_000_000_000

# stabilityai/stable-audio-open-1.0 (gated, so read from public mirrors of it):
# - model_index.json: huggingface.co/AEmotionStudio/stable-audio-open-models ("Mirror model_index.json
#   from stabilityai/stable-audio-open-1.0"): projection_model is ["stable_audio", ...], not
#   ["pipeline_stable_audio", ...] as this test had it.
# - the root stable-audio-tools checkpoint, model.ckpt (pickle) and model.safetensors, 4.85 GB each:
#   huggingface.co/chaowenguo/stable-audio-open-1.0 tree; model_config.json is what
#   stable-audio-tools' get_pretrained_model reads next to them (the model card's own example).
# - component sizes: transformer 4.23 GB (huggingface.co/RedbeardNZ/stable-audio-open-1.0 tree),
#   vae 624 MB and text_encoder 439 MB (huggingface.co/ylacombe/stable-audio-1.0, the diffusers
#   port the repo's components came from); the tokenizer files and the LICENSE/README/attribution
#   CSVs as a public download manifest lists them (modiff STABLE_AUDIO_DIFFUSERS_FILES).
# - dropped: stable_audio_light.png, which no listing shows. Small-file sizes are estimates.
SAO_INDEX = {
    "_class_name": "StableAudioPipeline",
    "_diffusers_version": "0.30.0.dev0",
    "projection_model": ["stable_audio", "StableAudioProjectionModel"],
    "scheduler": ["diffusers", "CosineDPMSolverMultistepScheduler"],
    "text_encoder": ["transformers", "T5EncoderModel"],
    "tokenizer": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "StableAudioDiTModel"],
    "vae": ["diffusers", "AutoencoderOobleck"],
}
SAO_FILES = {
    ".gitattributes": 1_520,
    "LICENSE.md": 8_000,
    "README.md": 6_000,
    "fma_dataset_attribution2.csv": 2_000_000,
    "freesound_dataset_attribution2.csv": 70_000_000,
    "model.ckpt": 4_850_000_000,
    "model.safetensors": 4_850_000_000,
    "model_config.json": 3_000,
    "model_index.json": 498,
    "projection_model/config.json": 400,
    "projection_model/diffusion_pytorch_model.safetensors": 1_100_000,
    "scheduler/scheduler_config.json": 500,
    "text_encoder/config.json": 1_500,
    "text_encoder/model.safetensors": 439_000_000,  # T5-base encoder, 109 M
    "tokenizer/special_tokens_map.json": 2_500,
    "tokenizer/spiece.model": 792_000,
    "tokenizer/tokenizer.json": 2_420_000,
    "tokenizer/tokenizer_config.json": 21_000,
    "transformer/config.json": 391,
    "transformer/diffusion_pytorch_model.safetensors": 4_230_000_000,  # DiT, 1,057 M
    "vae/config.json": 350,
    "vae/diffusion_pytorch_model.safetensors": 624_000_000,  # Oobleck, 156 M
}

# cvssp/audioldm2: model_index.json from huggingface.co/cvssp/audioldm2/blob/main/model_index.json;
# the root, tokenizer/ and tokenizer_2/ listings from its tree pages; projection_model/ publishes
# both diffusion_pytorch_model.bin and .safetensors (its tree page), as do unet/ and
# language_model/ in cvssp/audioldm2-large (same uploader, same commit message). The other
# component folders are taken to follow that pattern (not seen one by one).
AUDIOLDM2_INDEX = {
    "_class_name": "AudioLDM2Pipeline",
    "_diffusers_version": "0.20.0.dev0",
    "feature_extractor": ["transformers", "ClapFeatureExtractor"],
    "language_model": ["transformers", "GPT2Model"],
    "projection_model": ["audioldm2", "AudioLDM2ProjectionModel"],
    "scheduler": ["diffusers", "DDIMScheduler"],
    "text_encoder": ["transformers", "ClapModel"],
    "text_encoder_2": ["transformers", "T5EncoderModel"],
    "tokenizer": ["transformers", "RobertaTokenizerFast"],
    "tokenizer_2": ["transformers", "T5TokenizerFast"],
    "unet": ["audioldm2", "AudioLDM2UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
    "vocoder": ["transformers", "SpeechT5HifiGan"],
}
AUDIOLDM2_FILES = [
    ".gitattributes",
    "README.md",
    "model_index.json",
    "feature_extractor/preprocessor_config.json",
    "language_model/config.json",
    "language_model/model.safetensors",
    "language_model/pytorch_model.bin",
    "projection_model/config.json",
    "projection_model/diffusion_pytorch_model.bin",
    "projection_model/diffusion_pytorch_model.safetensors",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "text_encoder/pytorch_model.bin",
    "text_encoder_2/config.json",
    "text_encoder_2/model.safetensors",
    "text_encoder_2/pytorch_model.bin",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "tokenizer_2/special_tokens_map.json",
    "tokenizer_2/spiece.model",
    "tokenizer_2/tokenizer.json",
    "tokenizer_2/tokenizer_config.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.bin",
    "vae/diffusion_pytorch_model.safetensors",
    "vocoder/config.json",
    "vocoder/model.safetensors",
    "vocoder/pytorch_model.bin",
]

# cvssp/audioldm-s-full-v2: model_index.json as the cvssp/audioldm* repos publish it (cvssp/audioldm,
# cvssp/audioldm-m-full, and a copy saved from /content/audioldm-s-full-v2); unet/ (740 MB) and
# vae/ (222 MB) publish the original .bin plus the safetensors that "Adding `safetensors` variant of
# this model (#1)" added (their tree pages). The text encoder, tokenizer and vocoder folders are
# assumed to follow ucsd-reach/musicldm's (vocoder/: config.json, model.safetensors,
# pytorch_model.bin, its tree page) and cvssp/audioldm2's tokenizer/.
AUDIOLDM_INDEX = {
    "_class_name": "AudioLDMPipeline",
    "_diffusers_version": "0.15.0.dev0",
    "scheduler": ["diffusers", "DDIMScheduler"],
    "text_encoder": ["transformers", "ClapTextModelWithProjection"],
    "tokenizer": ["transformers", "RobertaTokenizerFast"],
    "unet": ["diffusers", "UNet2DConditionModel"],
    "vae": ["diffusers", "AutoencoderKL"],
    "vocoder": ["transformers", "SpeechT5HifiGan"],
}
AUDIOLDM_FILES = [
    ".gitattributes",
    "README.md",
    "model_index.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "text_encoder/pytorch_model.bin",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.bin",
    "unet/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.bin",
    "vae/diffusion_pytorch_model.safetensors",
    "vocoder/config.json",
    "vocoder/model.safetensors",
    "vocoder/pytorch_model.bin",
]

# harmonai/maestro-150k on main: scheduler/, unet/ with config.json and a pickled
# diffusion_pytorch_model.bin (886 MB) only, .gitattributes, README.md, model_index.json (196 bytes)
# (huggingface.co/harmonai/maestro-150k/tree/main and .../tree/main/unet). A safetensors copy
# exists only in an unmerged bot pull request (refs/pr/3, "Adding `safetensors` variant").
DANCE_INDEX = {
    "_class_name": "DanceDiffusionPipeline",
    "scheduler": ["diffusers", "IPNDMScheduler"],
    "unet": ["diffusers", "UNet1DModel"],
}
DANCE_FILES = [
    ".gitattributes",
    "README.md",
    "model_index.json",
    "scheduler/scheduler_config.json",
    "unet/config.json",
    "unet/diffusion_pytorch_model.bin",
]

# ACE-Step/acestep-v15-xl-turbo-diffusers: the listing from a public download manifest (modiff
# ACE_STEP_DIFFUSERS_FILES): a sharded transformer with its index, a Qwen tokenizer that includes
# chat_template.jinja and added_tokens.json. model_index.json's component classes follow diffusers'
# scripts/convert_ace_step_to_diffusers.py (the tokenizer/encoder class names it resolves from
# Qwen3-Embedding-0.6B are assumed: Qwen2TokenizerFast, Qwen3Model).
ACE_INDEX = {
    "_class_name": "AceStepPipeline",
    "condition_encoder": ["diffusers", "AceStepConditionEncoder"],
    "scheduler": ["diffusers", "FlowMatchEulerDiscreteScheduler"],
    "text_encoder": ["transformers", "Qwen3Model"],
    "tokenizer": ["transformers", "Qwen2TokenizerFast"],
    "transformer": ["diffusers", "AceStepTransformer1DModel"],
    "vae": ["diffusers", "AutoencoderOobleck"],
}
ACE_FILES = [
    ".gitattributes",
    "README.md",
    "condition_encoder/config.json",
    "condition_encoder/diffusion_pytorch_model.safetensors",
    "model_index.json",
    "scheduler/scheduler_config.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "tokenizer/added_tokens.json",
    "tokenizer/chat_template.jinja",
    "tokenizer/merges.txt",
    "tokenizer/special_tokens_map.json",
    "tokenizer/tokenizer.json",
    "tokenizer/tokenizer_config.json",
    "tokenizer/vocab.json",
    "transformer/config.json",
    "transformer/diffusion_pytorch_model-00001-of-00002.safetensors",
    "transformer/diffusion_pytorch_model-00002-of-00002.safetensors",
    "transformer/diffusion_pytorch_model.safetensors.index.json",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
]
ACE_SHARD_INDEX = {
    "metadata": {"total_size": 2},
    "weight_map": {
        "layers.0.w": "diffusion_pytorch_model-00001-of-00002.safetensors",
        "layers.9.w": "diffusion_pytorch_model-00002-of-00002.safetensors",
    },
}

# ruixiangma/LongCat-AudioDiT-1B-Diffusers (the official meituan-longcat/LongCat-AudioDiT-1B is not
# a diffusers folder: diffusers' scripts/convert_longcat_audio_dit_to_diffusers.py converts it):
# the listing from the same manifest (LONGCAT_AUDIO_DIT_DIFFUSERS_FILES). It has no scheduler/
# folder, so its model_index.json cannot name one: LongCatAudioDiTPipeline builds its own
# FlowMatchEuler scheduler when given none. The index's null entry is assumed.
LONGCAT_INDEX = {
    "_class_name": "LongCatAudioDiTPipeline",
    "scheduler": [None, None],
    "text_encoder": ["transformers", "UMT5EncoderModel"],
    "tokenizer": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "LongCatAudioDiTTransformer"],
    "vae": ["diffusers", "LongCatAudioDiTVae"],
}
LONGCAT_FILES = [
    ".gitattributes",
    "README.md",
    "model_index.json",
    "text_encoder/config.json",
    "text_encoder/model.safetensors",
    "tokenizer/special_tokens_map.json",
    "tokenizer/spiece.model",
    "tokenizer/tokenizer.json",
    "tokenizer/tokenizer_config.json",
    "transformer/config.json",
    "transformer/diffusion_pytorch_model.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
]

# Not a published repo: the variants and extras plans must skip (fp16 copies, a variant's shard
# index, ONNX exports) next to a sharded text encoder, as large-encoder repos publish them.
SHARDED_INDEX = {
    "_class_name": "LongCatAudioDiTPipeline",
    "text_encoder": ["transformers", "UMT5EncoderModel"],
    "tokenizer": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "LongCatAudioDiTTransformer"],
    "vae": ["diffusers", "LongCatAudioDiTVae"],
}
SHARDED_FILES = [
    "model_index.json",
    "README.md",
    "text_encoder/config.json",
    "text_encoder/model.safetensors.index.json",
    "text_encoder/model-00001-of-00002.safetensors",
    "text_encoder/model-00002-of-00002.safetensors",
    "text_encoder/model.fp16.safetensors",
    "text_encoder/model.safetensors.index.fp16.json",
    "text_encoder/model.fp16-00001-of-00001.safetensors",
    "tokenizer/spiece.model",
    "tokenizer/tokenizer_config.json",
    "transformer/config.json",
    "transformer/diffusion_pytorch_model.safetensors",
    "transformer/diffusion_pytorch_model.fp16.safetensors",
    "vae/config.json",
    "vae/diffusion_pytorch_model.safetensors",
    "vae/onnx/model.onnx",
]
SHARD_INDEX = {
    "metadata": {"total_size": 2},
    "weight_map": {"a": "model-00001-of-00002.safetensors", "b": "model-00002-of-00002.safetensors"},
}


def no_json(path: str) -> dict:
    raise AssertionError(f"plan read {path}, which it should not need")


def test_stable_audio_open_plan_skips_the_root_checkpoint_and_halves_the_download():
    plan = plan_download("stabilityai/stable-audio-open-1.0", SAO_FILES, SAO_INDEX, no_json)
    assert "model.safetensors" not in plan and "model.ckpt" not in plan
    assert "model_config.json" not in plan  # stable-audio-tools' config, not a component's
    assert [p for p in plan if "/" not in p] == ["model_index.json"]
    for comp in ("projection_model", "transformer", "vae"):
        assert f"{comp}/diffusion_pytorch_model.safetensors" in plan
    assert "text_encoder/model.safetensors" in plan
    assert {"tokenizer/spiece.model", "tokenizer/tokenizer.json", "scheduler/scheduler_config.json"} <= set(
        plan
    )
    planned = sum(SAO_FILES[p] for p in plan)
    old_filter = sum(
        size
        for path, size in SAO_FILES.items()
        if any(fnmatch.fnmatch(path, pat) for pat in ("*.json", "*.txt", "*.model", "*.safetensors"))
    )
    assert 5.2 * GB < planned < 5.4 * GB
    assert old_filter > 10 * GB  # what the `*.safetensors` filter fetched


def test_audioldm2_plan_takes_one_safetensors_copy_per_component_and_no_pickles():
    plan = plan_download("cvssp/audioldm2", AUDIOLDM2_FILES, AUDIOLDM2_INDEX, no_json)
    assert not [p for p in plan if p.endswith(".bin")]
    weights = [p for p in plan if p.endswith(".safetensors")]
    assert sorted(p.split("/")[0] for p in weights) == [
        "language_model",
        "projection_model",
        "text_encoder",
        "text_encoder_2",
        "unet",
        "vae",
        "vocoder",
    ]
    assert {"tokenizer/merges.txt", "tokenizer/vocab.json", "tokenizer_2/spiece.model"} <= set(plan)
    assert "feature_extractor/preprocessor_config.json" in plan
    assert "README.md" not in plan


def test_a_pickle_only_component_is_refused_before_anything_large_is_fetched():
    with pytest.raises(
        ModelLoadError, match=r"component unet/ publishes only pickled weights .*\.bin.*safetensors"
    ):
        plan_download("harmonai/maestro-150k", DANCE_FILES, DANCE_INDEX, no_json)


def test_sharded_weights_fetch_exactly_the_indexed_shards_and_no_variants():
    reads = []

    def read_json(path: str) -> dict:
        reads.append(path)
        return SHARD_INDEX

    plan = plan_download("org/sharded", SHARDED_FILES, SHARDED_INDEX, read_json)
    assert reads == ["text_encoder/model.safetensors.index.json"]
    assert "text_encoder/model-00001-of-00002.safetensors" in plan
    assert "text_encoder/model-00002-of-00002.safetensors" in plan
    assert not [p for p in plan if "fp16" in p or "onnx" in p]
    assert plan == sorted(plan)


def test_audioldm_plan_takes_the_safetensors_twin_of_each_pickle():
    plan = plan_download("cvssp/audioldm-s-full-v2", AUDIOLDM_FILES, AUDIOLDM_INDEX, no_json)
    assert not [p for p in plan if p.endswith(".bin")]
    assert sorted(p for p in plan if p.endswith(".safetensors")) == [
        "text_encoder/model.safetensors",
        "unet/diffusion_pytorch_model.safetensors",
        "vae/diffusion_pytorch_model.safetensors",
        "vocoder/model.safetensors",
    ]
    assert {"tokenizer/merges.txt", "tokenizer/vocab.json", "scheduler/scheduler_config.json"} <= set(plan)


def test_ace_step_plan_fetches_the_transformer_shards_and_the_whole_tokenizer():
    reads = []

    def read_json(path: str) -> dict:
        reads.append(path)
        return ACE_SHARD_INDEX

    plan = plan_download("ACE-Step/acestep-v15-xl-turbo-diffusers", ACE_FILES, ACE_INDEX, read_json)
    assert reads == ["transformer/diffusion_pytorch_model.safetensors.index.json"]
    # Every file but the repo's README and .gitattributes: each belongs to a component.
    assert plan == sorted(f for f in ACE_FILES if "/" in f or f == "model_index.json")
    # The chat template is part of the saved tokenizer (transformers writes it beside
    # tokenizer_config.json): a plan without it would load a different tokenizer.
    assert "tokenizer/chat_template.jinja" in plan


def test_longcat_plan_needs_no_scheduler_folder():
    assert "scheduler" not in components(LONGCAT_INDEX)  # [null, null]: the pipeline builds its own
    plan = plan_download("ruixiangma/LongCat-AudioDiT-1B-Diffusers", LONGCAT_FILES, LONGCAT_INDEX, no_json)
    assert plan == sorted(f for f in LONGCAT_FILES if "/" in f or f == "model_index.json")


def test_a_component_missing_from_the_repo_is_named():
    files = [f for f in SAO_FILES if not f.startswith("vae/")]
    with pytest.raises(ModelLoadError, match=r"names component vae/, but the repo has no such folder"):
        plan_download("stabilityai/stable-audio-open-1.0", files, SAO_INDEX, no_json)


# -- the hub's answers, through huggingface_hub's client against a local server ------------
class _Hub(http.server.BaseHTTPRequestHandler):
    answers: dict[str, tuple[int, dict[str, str]]] = {}

    def do_GET(self) -> None:  # noqa: N802 (http.server's name)
        status, headers = next((v for k, v in self.answers.items() if k in self.path), (500, {}))
        body = json.dumps({"error": headers.get("X-Error-Message", "")}).encode()
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_HEAD = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def hub():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Hub)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def test_a_gated_repo_says_accept_the_licence_and_log_in(hub, tmp_path):
    _Hub.answers = {
        "/api/models/stabilityai/stable-audio-open-1.0": (
            403,
            {"X-Error-Code": "GatedRepo", "X-Error-Message": "Access to model is restricted."},
        )
    }
    with pytest.raises(ModelLoadError) as err:
        download("stabilityai/stable-audio-open-1.0", endpoint=hub, cache_dir=tmp_path)
    msg = str(err.value)
    assert (
        "gated" in msg
        and "Accept its licence at https://huggingface.co/stabilityai/stable-audio-open-1.0" in msg
    )
    assert "hf auth login" in msg and "HF_TOKEN" in msg
    assert "Offline" not in msg


def test_a_missing_repo_says_check_the_name(hub, tmp_path):
    _Hub.answers = {"/api/models/": (404, {"X-Error-Code": "RepoNotFound", "X-Error-Message": "not found"})}
    with pytest.raises(ModelLoadError, match=r"no such repository .* or it is private.*HF_TOKEN"):
        download("org/nothing-here", endpoint=hub, cache_dir=tmp_path)


def test_offline_loads_from_the_cache_and_reports_the_commit(tiny_dir, tmp_path):
    commit = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--org--tiny"
    shutil.copytree(tiny_dir("DanceDiffusionPipeline"), repo / "snapshots" / commit)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(commit)
    unreachable = "http://127.0.0.1:9"  # discard port: nothing listens
    folder, revision = download("org/tiny", endpoint=unreachable, cache_dir=tmp_path)
    assert revision == commit
    assert (folder / "model_index.json").is_file()
    with pytest.raises(
        ModelLoadError, match=r"could not reach the Hugging Face hub .* not in the local cache"
    ):
        download("org/absent", endpoint=unreachable, cache_dir=tmp_path)
