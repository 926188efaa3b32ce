"""End to end over real UDP with the embedded default model: render -> accepted, progress, done;
the file and its sidecar exist and match what done said; cancel mid-render; subscribers see it all."""

from __future__ import annotations

import json
import time

import pytest
import soundfile as sf

from diffhost.osc.client import DiffhostClient


def test_render_accepted_progress_done_file_and_sidecar(client, session):
    progress: list[float] = []
    res = client.render("punchy analog kick", 0.5, 7, on_progress=lambda job, f: progress.append(f))
    assert res.ok, res.message
    assert res.job >= 1
    assert res.path is not None and res.path.is_absolute() and res.path.parent == session.renders_dir
    info = sf.info(str(res.path))
    assert info.samplerate == res.sample_rate == 44100
    assert info.frames == 22050 and abs(res.length_s - 0.5) < 1e-9
    side = json.loads(res.path.with_name(res.path.name + ".json").read_text())
    assert side["params"]["prompt"] == "punchy analog kick" and side["params"]["seed"] == 7
    steps = side["params"]["steps"]
    assert 1 <= len(progress) <= steps  # at most one message per denoising step
    assert progress == sorted(progress) and all(0.0 < f <= 1.0 for f in progress)
    # The overrides applied to this render only; the session keeps its own prompt and length.
    assert session.params.prompt is None and session.params.length == 1.0


def test_render_uses_session_params_and_preset_errors_change_nothing(client, session):
    client.request("/diffhost/param/set", "prompt", "closed hihat", expect="/diffhost/param")
    client.request("/diffhost/param/set", "length", 0.25, expect="/diffhost/param")
    res = client.render()  # everything from the session
    assert res.ok, res.message
    assert sf.info(str(res.path)).frames == round(0.25 * 44100)
    assert "closed-hihat" in res.path.name


def test_subscriber_sees_another_clients_job(server, client):
    with DiffhostClient("127.0.0.1", server.address[1]) as listener:
        listener.send("/diffhost/subscribe", listener.local_address[1])
        listener.wait_for(lambda m: m[0] == "/diffhost/subscribed")
        res = client.render("tight snare", 0.5, 3)
        assert res.ok
        kinds = []
        while not kinds or kinds[-1] != "/diffhost/job/done":
            addr, args = listener.wait_for(lambda m: m[0].startswith("/diffhost/job/"), timeout=10)
            assert args[0] == res.job
            kinds.append(addr)
        assert kinds[0] == "/diffhost/job/accepted" and "/diffhost/job/progress" in kinds
        assert args[1:4] == [str(res.path), res.length_s, res.sample_rate]


def test_cancel_mid_render(client, session):
    client.request("/diffhost/param/set", "steps", 1000, expect="/diffhost/param")
    client.send("/diffhost/render", "pad swell", 1.0)
    job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
    first = client.wait_for(lambda m: m[0] == "/diffhost/job/progress", timeout=30)[1]
    assert first[0] == job and first[1] < 0.5
    client.send("/diffhost/cancel", job)
    addr, args = client.wait_for(
        lambda m: m[0] in ("/diffhost/job/cancelled", "/diffhost/job/done", "/diffhost/job/error"), timeout=30
    )
    assert (addr, args) == ("/diffhost/job/cancelled", [job])
    assert not list(session.renders_dir.iterdir())  # nothing written for a cancelled job
    deadline = time.monotonic() + 5
    while session.engine.pending() and time.monotonic() < deadline:  # the worker lets go of it
        time.sleep(0.01)
    client.send("/diffhost/cancel", job)  # it is gone now: answered with what became of it
    assert client.wait_for(lambda m: m[0] == "/diffhost/cancelled" and m[1][1] == 0)[1] == [job, 0, "cancelled"]


def test_length_past_the_loaded_model_is_refused_at_once(client, session):
    # Valid for a request (0.05..600 s) but longer than the default model makes: with the model
    # loaded, refused before anything is queued, naming the model's range.
    info = session.engine.load(None).info
    pending = session.engine.pending()
    too_long = info.max_length_s + 6.0
    res = client.render("riser", too_long)
    assert res.status == "rejected", res
    assert f"length: {too_long} s is out of range for model {info.name}" in res.message
    assert f"valid is {info.min_length_s:g}..{info.max_length_s:g} s" in res.message
    assert session.engine.pending() == pending
    assert not list(session.renders_dir.iterdir())


def test_subscribed_sender_hears_its_job_once_and_in_order(client, session):
    client.send("/diffhost/subscribe", client.local_address[1])
    client.wait_for(lambda m: m[0] == "/diffhost/subscribed")
    client.send("/diffhost/render", "rim", 0.5, 5)
    seen = []
    while not seen or seen[-1][0] != "/diffhost/job/done":
        seen.append(client.wait_for(lambda m: m[0].startswith("/diffhost/job/"), timeout=30))
    kinds = [k for k, _ in seen]
    assert kinds[0] == "/diffhost/job/accepted" and kinds.count("/diffhost/job/accepted") == 1
    assert set(kinds[1:-1]) == {"/diffhost/job/progress"}
    with pytest.raises(TimeoutError):  # and nothing twice
        client.wait_for(lambda m: m[0].startswith("/diffhost/job/"), timeout=0.3)


def test_bars_over_osc_render_exact_bars_and_the_music_comes_before_done(client, session):
    """`/diffhost/param/set bars 2` with bpm 140: the file is exactly 2 bars, and
    `/diffhost/job/music i:job f:bpm s:key f:bars i:loop` arrives just before done."""
    client.request("/diffhost/param/set", "bpm", 140.0, expect="/diffhost/param")
    assert client.request("/diffhost/param/set", "bars", 2, expect="/diffhost/param")[1][0] == "bars"
    assert session.params.bars == 2.0
    client.send("/diffhost/render", "trap drum loop")
    job = client.wait_for(lambda m: m[0] == "/diffhost/job/accepted")[1][0]
    seen = []
    while not seen or seen[-1][0] != "/diffhost/job/done":
        seen.append(
            client.wait_for(lambda m: m[0] in ("/diffhost/job/music", "/diffhost/job/done"), timeout=30)
        )
    (music_addr, music), (_, done) = seen[-2], seen[-1]
    assert music_addr == "/diffhost/job/music" and music[0] == job == done[0]
    assert music[1] == 140.0 and music[3] == 2.0 and music[4] == 1 and music[2].endswith(("major", "minor"))
    assert sf.info(done[1]).frames == round(2 * 240 / 140 * 44100)
    # A length in seconds replaces the length in bars.
    client.request("/diffhost/param/set", "length", 2.0, expect="/diffhost/param")
    assert session.params.bars is None and session.params.length == 2.0
    client.send("/diffhost/param/set", "bars", -3)
    client.wait_for(lambda m: m[0] == "/diffhost/error" and "bars" in m[1][1])
    assert session.params.bars is None


def test_stems_and_midi_over_osc_land_beside_the_file(client, session):
    for name in ("stems", "midi", "bpm", "bars"):
        client.request(
            "/diffhost/param/set", name, {"bpm": 120.0, "bars": 1}.get(name, 1), expect="/diffhost/param"
        )
    assert session.params.stems is True and session.params.midi is True
    assert client.request("/diffhost/param/get", "stems", expect="/diffhost/param")[1] == ["stems", 1]
    res = client.render("house drum loop with bass")
    assert res.ok, res.message
    side = json.loads(res.path.with_name(res.path.name + ".json").read_text())
    assert set(side["stems"]["files"]) >= {"drums", "bass"} and res.path.with_suffix(".mid").is_file()
    # every session finishes its renders: effects and finishing shape the file, so the stems sum to
    # the dry audio the finisher keeps beside it
    assert side["stems"]["sum_of"] == "dry"
    mix, _ = sf.read(res.path.parent / side["dry"]["path"], dtype="float32")
    total = sum(sf.read(res.path.parent / f, dtype="float32")[0] for f in side["stems"]["files"].values())
    assert float(abs(total - mix).max()) < 10 ** (-90 / 20)
    client.send("/diffhost/param/set", "stems", 7)
    assert "stems" in client.wait_for(lambda m: m[0] == "/diffhost/error")[1][1]
