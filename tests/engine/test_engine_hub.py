"""Download plans against published repo layouts, and the hub's answers (gated, missing, offline).

The layouts are the repos' file listings as published on the Hugging Face hub (with weight sizes
from their parameter counts at float32), written out here: the plan is a pure function of the
listing and model_index.json, so it is checked without the network. The hub's answers come from a
local HTTP server speaking the hub's error protocol, through huggingface_hub's own client.
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

# stabilityai/stable-audio-open-1.0: the diffusers components plus the stable-audio-tools checkpoint.
SAO_INDEX = {
    "_class_name": "StableAudioPipeline",
    "_diffusers_version": "0.30.0.dev0",
    "projection_model": ["pipeline_stable_audio", "StableAudioProjectionModel"],
    "scheduler": ["diffusers", "CosineDPMSolverMultistepScheduler"],
    "text_encoder": ["transformers", "T5EncoderModel"],
    "tokenizer": ["transformers", "T5TokenizerFast"],
    "transformer": ["diffusers", "StableAudioDiTModel"],
    "vae": ["diffusers", "AutoencoderOobleck"],
}
SAO_FILES = {
    ".gitattributes": 1_600,
    "LICENSE.md": 8_000,
    "README.md": 6_000,
    "fma_dataset_attribution2.csv": 2_000_000,
    "freesound_dataset_attribution2.csv": 70_000_000,
    "model.ckpt": 4_850_000_000,
    "model.safetensors": 4_850_000_000,
    "model_config.json": 3_000,
    "model_index.json": 600,
    "projection_model/config.json": 400,
    "projection_model/diffusion_pytorch_model.safetensors": 1_100_000,
    "scheduler/scheduler_config.json": 500,
    "stable_audio_light.png": 20_000,
    "text_encoder/config.json": 1_500,
    "text_encoder/model.safetensors": 438_000_000,  # T5-base encoder, 109 M
    "tokenizer/special_tokens_map.json": 2_500,
    "tokenizer/spiece.model": 792_000,
    "tokenizer/tokenizer.json": 2_400_000,
    "tokenizer/tokenizer_config.json": 21_000,
    "transformer/config.json": 700,
    "transformer/diffusion_pytorch_model.safetensors": 4_230_000_000,  # DiT, 1,057 M
    "vae/config.json": 700,
    "vae/diffusion_pytorch_model.safetensors": 626_000_000,  # Oobleck, 156 M
}

# cvssp/audioldm2: every weight file published twice (pickle and safetensors).
AUDIOLDM2_INDEX = {
    "_class_name": "AudioLDM2Pipeline",
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

# harmonai/maestro-150k: published before safetensors, pickles only.
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

# A pipeline with a sharded text encoder, fp16 variants next to the defaults, and an optional
# component left out (null): the layout large text encoders and LongCat-style repos use.
SHARDED_INDEX = {
    "_class_name": "LongCatAudioDiTPipeline",
    "scheduler": [None, None],
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

    plan = plan_download("org/longcat", SHARDED_FILES, SHARDED_INDEX, read_json)
    assert reads == ["text_encoder/model.safetensors.index.json"]
    assert "text_encoder/model-00001-of-00002.safetensors" in plan
    assert "text_encoder/model-00002-of-00002.safetensors" in plan
    assert not [p for p in plan if ".fp16." in p or "onnx" in p]
    assert "scheduler" not in components(SHARDED_INDEX)  # [null, null]: left out by the pipeline
    assert plan == sorted(plan)


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
