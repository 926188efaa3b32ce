"""The remote engine's wire format: JSON headers plus raw little-endian float32 arrays.

Nothing crossing the network is ever unpickled. A message is one binary WebSocket frame

    b"DHW1" | u32 big-endian header length | header (UTF-8 JSON object)

followed by one binary frame per CHUNK_BYTES of each array the header lists under "arrays"
({"name", "dtype": "<f4", "shape"}), in order. Audio is sent as its exact bytes, so a render
comes back bit-identical. The decoder checks magic, sizes, dtype and shape before it allocates,
and `Assembler` puts a message back together frame by frame (the same code on both ends).

numpy only: no torch, no Ray, so a host without them can use the client.
"""

from __future__ import annotations

import json
import math
import struct
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from diffhost.engine.request import GenerationRequest, GenerationResult, ModelInfo, SeedClip

MAGIC = b"DHW1"
VERSION = 1
CHUNK_BYTES = 1 << 20  # under every proxy's frame limit (uvicorn refuses frames over 16 MiB)
MAX_HEADER_BYTES = 1 << 20
MAX_FRAME_BYTES = max(CHUNK_BYTES, MAX_HEADER_BYTES) + 8  # what a receiver's socket should accept
MAX_ARRAY_BYTES = 1 << 31  # 2 GiB: 600 s x 192 kHz x 2 ch x 64 variations would not fit anyway
DTYPE = "<f4"  # float32, little-endian, whatever the machine: the bytes mean the same everywhere
_REQUEST_FIELDS = tuple(f.name for f in fields(GenerationRequest) if f.name != "seed_clip")
_MODEL_FIELDS = frozenset(f.name for f in fields(ModelInfo))


class WireError(ValueError):
    """A message that is not in this format (or not this version): names what is wrong."""


@dataclass(frozen=True)
class Message:
    header: dict[str, Any]
    arrays: dict[str, np.ndarray]

    @property
    def type(self) -> str:
        return str(self.header.get("type", ""))


def encode(header: dict[str, Any], arrays: dict[str, np.ndarray] | None = None) -> list[bytes]:
    """The frames of one message: the header frame, then each array's bytes in chunks."""
    arrays = arrays or {}
    specs, payloads = [], []
    for name, array in arrays.items():
        a = np.ascontiguousarray(array, dtype=DTYPE)
        specs.append({"name": name, "dtype": DTYPE, "shape": list(a.shape)})
        payloads.append(a.tobytes())
    head = json.dumps({**header, "v": VERSION, "arrays": specs}, separators=(",", ":")).encode()
    frames = [MAGIC + struct.pack(">I", len(head)) + head]
    for data in payloads:
        frames.extend(data[i : i + CHUNK_BYTES] for i in range(0, len(data), CHUNK_BYTES))
    return frames


class Assembler:
    """Feed frames in arrival order; `feed` returns a Message once one is complete, else None."""

    def __init__(self, max_array_bytes: int = MAX_ARRAY_BYTES):
        self._max = max_array_bytes
        self._header: dict[str, Any] | None = None
        self._specs: list[tuple[str, tuple[int, ...], int]] = []
        self._buf = bytearray()
        self._done: dict[str, np.ndarray] = {}

    def feed(self, frame: bytes | str) -> Message | None:
        if isinstance(frame, str):
            raise WireError("expected binary frames, got a text frame")
        if self._header is None:
            self._start(frame)
        else:
            self._buf.extend(frame)
            self._take()
        if self._specs:
            return None
        msg = Message(self._header or {}, self._done)
        self._header, self._done, self._buf = None, {}, bytearray()
        return msg

    def _start(self, frame: bytes) -> None:
        if len(frame) < 8 or frame[:4] != MAGIC:
            raise WireError("not a diffhost engine message (bad magic); is this a diffhost engine-serve?")
        (n,) = struct.unpack(">I", frame[4:8])
        if n > MAX_HEADER_BYTES or len(frame) != 8 + n:
            raise WireError(f"header length {n} does not match the frame ({len(frame) - 8} bytes)")
        try:
            header = json.loads(frame[8:].decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise WireError(f"header is not JSON ({exc})") from None
        if not isinstance(header, dict):
            raise WireError("header is not a JSON object")
        if header.get("v") != VERSION:
            raise WireError(f"wire version {header.get('v')!r}; this diffhost speaks version {VERSION}")
        specs = header.pop("arrays", [])
        if not isinstance(specs, list):
            raise WireError("arrays: expected a list")
        parsed, total = [], 0
        for spec in specs:
            name, shape = _check_spec(spec)
            nbytes = math.prod(shape) * 4
            total += nbytes
            if total > self._max:
                raise WireError(f"arrays: {total} bytes is more than the {self._max} allowed")
            parsed.append((name, shape, nbytes))
        self._header, self._specs = header, parsed
        self._take()  # zero-sized arrays complete at once

    def _take(self) -> None:
        while self._specs and len(self._buf) >= self._specs[0][2]:
            name, shape, nbytes = self._specs.pop(0)
            # One copy, straight out of the buffer (the view is gone before the buffer shrinks).
            view = memoryview(self._buf)[:nbytes]
            self._done[name] = np.frombuffer(view, dtype=DTYPE).reshape(shape).astype(np.float32)
            view.release()
            del self._buf[:nbytes]
        if not self._specs and self._buf:
            raise WireError(f"{len(self._buf)} bytes after the last array")


def _check_spec(spec: Any) -> tuple[str, tuple[int, ...]]:
    if not isinstance(spec, dict):
        raise WireError("arrays: each entry must be an object")
    name, dtype, shape = spec.get("name"), spec.get("dtype"), spec.get("shape")
    if not isinstance(name, str) or not name:
        raise WireError("arrays: an entry has no name")
    if dtype != DTYPE:
        raise WireError(f"array {name}: dtype {dtype!r} is not supported; only {DTYPE!r} (float32)")
    if (
        not isinstance(shape, list)
        or not 1 <= len(shape) <= 4
        or not all(isinstance(d, int) and not isinstance(d, bool) and 0 <= d < 2**40 for d in shape)
    ):
        raise WireError(f"array {name}: shape {shape!r} is not 1 to 4 whole numbers >= 0")
    return name, tuple(shape)


# -- requests and results ----------------------------------------------------------------------
def request_header(request: GenerationRequest) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """A request's fields as JSON, its seed clip (if any) as an array."""
    params = {name: getattr(request, name) for name in _REQUEST_FIELDS}
    arrays: dict[str, np.ndarray] = {}
    if request.seed_clip is not None:
        params["seed_clip_sample_rate"] = request.seed_clip.sample_rate
        arrays["seed_clip"] = request.seed_clip.audio
    return params, arrays


def request_from(params: Any, arrays: dict[str, np.ndarray]) -> GenerationRequest:
    """Rebuild a request; every value is validated again by GenerationRequest itself."""
    if not isinstance(params, dict):
        raise WireError("request: expected an object of parameters")
    params = dict(params)
    clip_rate = params.pop("seed_clip_sample_rate", None)
    unknown = set(params) - set(_REQUEST_FIELDS)
    if unknown:
        raise WireError(f"request: unknown parameter(s) {sorted(unknown)}; valid are {list(_REQUEST_FIELDS)}")
    clip = None
    if "seed_clip" in arrays:
        if arrays["seed_clip"].ndim != 2:
            raise WireError("seed_clip: expected (channels, samples)")
        clip = SeedClip(arrays["seed_clip"], clip_rate)
    return GenerationRequest(**params, seed_clip=clip)


def result_header(result: GenerationResult) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    extra = dict(result.extra)
    arrays = {"audio": result.audio}
    # Stems travel as arrays ("stem/<variation>/<part>"), not as JSON lists; a score's notes are JSON.
    for v, parts in enumerate(extra.pop("stems", None) or []):
        for role, audio in parts.items():
            arrays[f"stem/{v}/{role}"] = np.asarray(audio, dtype=np.float32)
    header = {
        "sample_rate": result.sample_rate,
        "seed": result.seed,
        "model": result.model.to_dict(),
        "steps": result.steps,
        "guidance": result.guidance,
        "render_s": result.render_s,
        "extra": json.loads(json.dumps(extra, default=_plain)),
    }
    return header, arrays


def result_from(
    header: dict[str, Any], arrays: dict[str, np.ndarray], request: GenerationRequest, rendered_on: str
) -> GenerationResult:
    """The result as the local engine would have returned it, plus where it was rendered."""
    audio = arrays.get("audio")
    if audio is None or audio.ndim != 3:
        raise WireError("result: expected audio shaped (variations, channels, samples)")
    model = {k: v for k, v in dict(header.get("model") or {}).items() if k in _MODEL_FIELDS}
    model["rendered_on"] = rendered_on
    extra = dict(header.get("extra") or {})
    stems: dict[int, dict[str, np.ndarray]] = {}
    for name, arr in arrays.items():
        if name.startswith("stem/") and name.count("/") == 2:
            _, v, role = name.split("/")
            if v.isdigit():
                stems.setdefault(int(v), {})[role] = arr
    if stems:
        extra["stems"] = [stems[v] for v in sorted(stems)]
    return GenerationResult(
        audio=audio,
        sample_rate=int(header["sample_rate"]),
        request=request,
        seed=int(header["seed"]),
        model=ModelInfo(**model),
        steps=int(header["steps"]),
        guidance=header.get("guidance"),
        render_s=float(header.get("render_s", 0.0)),
        extra=extra,
    )


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    return str(value)
