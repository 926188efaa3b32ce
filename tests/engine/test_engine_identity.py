"""Weights identity: a folder's hash is cached by path, size and mtime; a hub snapshot is its commit."""

from __future__ import annotations

import json
import os
import shutil

from diffhost.engine import load_model
from diffhost.engine.cache import cache_dir
from diffhost.engine.identity import weights_hash


def _weights(folder):
    return sorted(folder.rglob("*.safetensors"))


def test_second_hash_reads_no_weights_and_a_touched_file_is_hashed_again(tiny_dir, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(tiny_dir("DanceDiffusionPipeline"), folder)
    first = weights_hash(folder)
    weights = _weights(folder)[0]
    st = weights.stat()
    # Same size and mtime, different bytes: the cached hash stands, so nothing was read.
    data = bytearray(weights.read_bytes())
    data[-1] ^= 0xFF
    weights.write_bytes(bytes(data))
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert weights_hash(folder) == first
    # A new mtime (what any real edit leaves) is a new key: the file is read and hashed again.
    os.utime(weights, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000_000))
    assert weights_hash(folder) != first


def test_the_cache_is_one_valid_json_file_written_atomically_and_pruned(tiny_dir, tmp_path):
    folder = tmp_path / "copy"
    shutil.copytree(tiny_dir("DanceDiffusionPipeline"), folder)
    weights_hash(folder)
    path = cache_dir() / "weights-hashes.json"
    entries = json.loads(path.read_text())
    key = next(k for k in entries if k.startswith(str(_weights(folder)[0].resolve()) + "|"))
    assert len(entries[key]) == 64
    assert not [p for p in cache_dir().iterdir() if p.name.endswith(".tmp")]
    os.utime(_weights(folder)[0], ns=(0, 1_000_000_000))
    weights_hash(folder)
    again = json.loads(path.read_text())
    prefix = str(_weights(folder)[0].resolve()) + "|"
    assert len([k for k in again if k.startswith(prefix)]) == 1  # the stale entry is gone


def test_a_corrupt_cache_is_treated_as_empty_and_rewritten(tiny_dir, tmp_path):
    from diffhost.engine import identity

    folder = tmp_path / "copy"
    shutil.copytree(tiny_dir("DanceDiffusionPipeline"), folder)
    expected = weights_hash(folder)
    path = cache_dir() / "weights-hashes.json"
    path.write_text("{ not json")
    identity._HASHES._data = None  # a fresh process reads the file again
    assert weights_hash(folder) == expected
    assert isinstance(json.loads(path.read_text()), dict)


def test_identity_does_not_depend_on_where_the_folder_lives(tiny_dir, tmp_path):
    src = tiny_dir("DanceDiffusionPipeline")
    copy = tmp_path / "elsewhere"
    shutil.copytree(src, copy)
    assert (
        load_model(str(copy), device="cpu").info.revision == load_model(str(src), device="cpu").info.revision
    )
