"""Parameters, subscriptions, seed clips and slots through real UDP, checked against the Session."""

from __future__ import annotations

import os

import pytest
from osc_helpers import write_wav

from diffhost.osc.client import DiffhostClient

ERR = "/diffhost/error"


def error_for(client, address: str) -> str:
    return client.wait_for(lambda m: m[0] == ERR and m[1][:1] == [address])[1][1]


def test_param_set_and_get_round_trip(client, session):
    assert client.request("/diffhost/param/set", "temperature", 0.7, expect="/diffhost/param")[1] == [
        "temperature",
        pytest.approx(0.7),
    ]
    assert session.params.temperature == pytest.approx(0.7)
    client.request("/diffhost/param/set", "prompt", "dark tom", expect="/diffhost/param")
    client.request("/diffhost/param/set", "sample_rate", 48000, expect="/diffhost/param")
    assert session.params.prompt == "dark tom" and session.params.sample_rate == 48000
    assert client.request("/diffhost/param/get", "prompt", expect="/diffhost/param")[1] == [
        "prompt",
        "dark tom",
    ]
    # -1 and "" unset: the model's default steps, no prompt
    client.request("/diffhost/param/set", "steps", 20, expect="/diffhost/param")
    assert session.params.steps == 20
    assert client.request("/diffhost/param/set", "steps", -1, expect="/diffhost/param")[1] == ["steps", -1]
    assert session.params.steps is None
    client.request("/diffhost/param/set", "prompt", "", expect="/diffhost/param")
    assert session.params.prompt is None
    # the key is text, as docs/osc.md says; a bad one is refused and changes nothing; "" clears it
    assert client.request("/diffhost/param/set", "key", "A minor", expect="/diffhost/param")[1] == [
        "key",
        "A minor",
    ]
    assert session.params.key == "A minor"
    client.send("/diffhost/param/set", "key", "H dorian")
    assert "key" in error_for(client, "/diffhost/param/set") and session.params.key == "A minor"
    client.request("/diffhost/param/set", "key", "", expect="/diffhost/param")
    assert session.params.key is None
    # the mix version an older recipe was made with; -1 clears it (the model's newest)
    assert client.request("/diffhost/param/set", "mix", 2, expect="/diffhost/param")[1] == ["mix", 2]
    assert session.params.mix == 2
    client.send("/diffhost/param/set", "mix", 0)
    assert "mix" in error_for(client, "/diffhost/param/set") and session.params.mix == 2
    client.request("/diffhost/param/set", "mix", -1, expect="/diffhost/param")
    assert session.params.mix is None
    # no name: every parameter, one message each
    client.send("/diffhost/param/get")
    names = [client.wait_for(lambda m: m[0] == "/diffhost/param")[1][0] for _ in range(17)]
    assert sorted(names) == sorted(
        [
            "prompt",
            "sample_rate",
            "length",
            "temperature",
            "steps",
            "guidance",
            "negative_prompt",
            "seed",
            "strength",
            "variations",
            "bpm",
            "key",
            "bars",
            "stems",
            "midi",
            "mix",
            "model",
        ]
    )


def test_subscribers_get_changes_made_by_others_and_unsubscribe_stops_them(server, session):
    with (
        DiffhostClient("127.0.0.1", server.address[1]) as listener,
        DiffhostClient("127.0.0.1", server.address[1]) as controller,
    ):
        port = listener.local_address[1]
        controller.send("/diffhost/subscribe", port)  # subscribe another socket (same machine)
        assert listener.wait_for(lambda m: m[0] == "/diffhost/subscribed")[1] == ["127.0.0.1", port]
        assert ("127.0.0.1", port) in server.subscribers
        controller.request("/diffhost/param/set", "length", 0.5, expect="/diffhost/param")
        assert listener.wait_for(lambda m: m[0] == "/diffhost/param")[1] == ["length", 0.5]
        session.set_param("temperature", 0.3)  # a change made in the GUI reaches OSC listeners too
        assert listener.wait_for(lambda m: m[0] == "/diffhost/param")[1] == [
            "temperature",
            pytest.approx(0.3),
        ]

        controller.send("/diffhost/unsubscribe", port)
        assert listener.wait_for(lambda m: m[0] == "/diffhost/unsubscribed")[1] == ["127.0.0.1", port]
        assert len(server.subscribers) == 0
        session.set_param("temperature", 0.4)
        controller.request("/diffhost/ping", expect="/diffhost/pong")
        with pytest.raises(TimeoutError):
            listener.wait_for(lambda m: m[0] == "/diffhost/param", timeout=0.3)


def test_subscribed_sender_hears_each_change_once(client, session):
    client.send("/diffhost/subscribe", client.local_address[1])
    client.wait_for(lambda m: m[0] == "/diffhost/subscribed")
    client.send("/diffhost/param/set", "strength", 0.25)
    assert client.wait_for(lambda m: m[0] == "/diffhost/param")[1] == ["strength", 0.25]
    client.send("/diffhost/ping")
    client.wait_for(lambda m: m[0] == "/diffhost/pong")
    with pytest.raises(TimeoutError):
        client.wait_for(lambda m: m[0] == "/diffhost/param", timeout=0.3)


def test_subscriber_limit_and_default_reply_port(server, client):
    client.send("/diffhost/subscribe")  # no port: the configured reply port (12001)
    assert client.wait_for(lambda m: m[0] == "/diffhost/subscribed")[1] == ["127.0.0.1", 12001]
    for port in range(20000, 20031):
        client.send("/diffhost/subscribe", port)
    client.send("/diffhost/subscribe", 21000)
    assert "32 listeners already subscribed" in error_for(client, "/diffhost/subscribe")
    assert len(server.subscribers) == 32


def test_seed_load_inside_allowed_folders(client, session, dirs):
    session.engine.load(None)  # the model's rate known before the load: no race with a background load
    wav = write_wav(dirs["audio"] / "seed.wav", seconds=0.5)
    addr, args = client.request("/diffhost/seed/load", str(wav), expect="/diffhost/seed")
    assert args[0] == pytest.approx(0.5, abs=1e-3)
    # Read at the model's own rate (resampled on the way): the model would resample it anyway.
    assert session.seed_clip is not None
    assert session.seed_clip.sample_rate == session.model_info().native_sample_rate == 44100
    write_wav(dirs["renders"] / "take.wav", seconds=0.25)
    client.request("/diffhost/seed/load", "take.wav", expect="/diffhost/seed")  # relative = renders folder
    assert session.seed_clip.duration_s == pytest.approx(0.25, abs=1e-3)
    assert client.request("/diffhost/seed/clear", expect="/diffhost/seed")[1] == [0.0]
    assert session.seed_clip is None


def test_path_escapes_are_refused(client, session, dirs):
    secret = write_wav(dirs["outside"] / "secret.wav")
    (dirs["audio"] / "link.wav").symlink_to(secret)
    (dirs["renders"] / "outlink").symlink_to(dirs["outside"], target_is_directory=True)
    cases = {
        str(secret): "outside the allowed folders",
        "../outside/secret.wav": "outside the allowed folders",
        str(dirs["audio"] / ".." / "outside" / "secret.wav"): "outside the allowed folders",
        str(dirs["audio"] / "link.wav"): "(through a symlink), outside the allowed folders",
        "outlink/secret.wav": "(through a symlink), outside the allowed folders",
        "/etc/passwd": "outside the allowed folders",
        str(dirs["audio"] / "missing.wav"): "no such file",
        str(dirs["audio"]): "is not a regular file",
        "": "empty path",
    }
    for raw, needle in cases.items():
        for address, args in (("/diffhost/seed/load", [raw]), ("/diffhost/slot/1/load", [raw])):
            client.send(address, *args)
            message = error_for(client, address)
            assert needle in message, (raw, message)
    assert session.seed_clip is None
    assert sorted(os.listdir(dirs["renders"])) == ["outlink"]


def test_not_audio_inside_allowed_folder_names_the_file(client, session, dirs):
    bad = dirs["audio"] / "notes.wav"
    bad.write_text("not audio")
    client.send("/diffhost/seed/load", str(bad))
    assert "notes.wav" in error_for(client, "/diffhost/seed/load")
    assert session.seed_clip is None


@pytest.mark.parametrize(
    "address,args",
    [
        ("/diffhost/slot/1/play", []),
        ("/diffhost/slot/1/play", [0.8]),
        ("/diffhost/slot/1/play", [0.0]),
        ("/diffhost/slot/2/stop", []),
        ("/diffhost/slot/3/gate", [1.0]),
        ("/diffhost/slot/3/gate", [0]),
        ("/diffhost/slot/4/state", []),
        ("/diffhost/slot/5/assign", [1]),
        ("/diffhost/tempo", [124.0]),
        ("/diffhost/quantize", [1.0]),
        ("/diffhost/seed/record", [1.0]),
    ],
)
def test_slot_and_live_messages_without_audio_say_so(client, session, address, args):
    client.send(address, *args)
    assert error_for(client, address) == "audio: no audio device is open in this session"


def test_model_choice_over_osc_cannot_download_or_read_elsewhere(client, session, dirs):
    for raw in ("stabilityai/stable-audio-open-1.0", str(dirs["outside"]), "../outside"):
        client.send("/diffhost/param/set", "model", raw)
        message = error_for(client, "/diffhost/param/set")
        assert "nothing is downloaded" in message, message
        assert session.model is None
    models = dirs["audio"] / "my-model"
    models.mkdir()
    client.send("/diffhost/param/set", "model", str(models))  # a folder, but no model in it
    assert "is not a model folder" in error_for(client, "/diffhost/param/set")
    assert session.model is None
    (models / "model_index.json").write_text('{"_class_name": "StableAudioPipeline"}')
    assert client.request("/diffhost/param/set", "model", str(models), expect="/diffhost/param")[1] == [
        "model",
        str(models.resolve()),
    ]
    assert session.model == str(models.resolve())
    client.request("/diffhost/param/set", "model", "default", expect="/diffhost/param")
    assert session.model is None
