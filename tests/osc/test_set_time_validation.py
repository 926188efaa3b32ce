"""Values are checked when they are set, against the loaded model too, and a
listener address against the socket's family; the error names the valid range and nothing changes."""

from __future__ import annotations

import pytest

from diffhost.host.session import MAX_TEXT_CHARS


def error_for(client, address: str) -> str:
    return client.wait_for(lambda m: m[0] == "/diffhost/error" and m[1][:1] == [address])[1][1]


def test_renders_folder_is_not_a_model(client, session):
    client.send("/diffhost/param/set", "model", ".")  # "." = the renders folder: allowed, but no model
    message = error_for(client, "/diffhost/param/set")
    assert f"model: {session.renders_dir} is not a model folder" in message
    assert "no model_index.json" in message and "valid is 'default'" in message
    assert session.model is None


def test_length_past_the_loaded_model_is_refused_when_set(client, session):
    info = session.engine.load(None).info
    before = session.params
    too_long = info.max_length_s + 6.0  # inside the general 0.05..600 s, past the model
    client.send("/diffhost/param/set", "length", too_long)
    assert error_for(client, "/diffhost/param/set") == (
        f"length: {too_long} s is out of range for model {info.name} ({info.family}); "
        f"valid is {info.min_length_s:g}..{info.max_length_s:g} s"
    )
    assert session.params == before
    ok = client.request("/diffhost/param/set", "length", info.max_length_s, expect="/diffhost/param")
    assert ok[1] == ["length", info.max_length_s]


def test_limits_are_the_models_own(session):
    info = session.engine.load(None).info
    assert session.model_info() == info
    with pytest.raises(ValueError, match=f"valid is {info.min_length_s:g}..{info.max_length_s:g} s"):
        session.set_param("length", info.max_length_s + 0.5)


def test_ipv6_listener_on_an_ipv4_socket_is_refused(client, server):
    before = server.subscribers.snapshot()
    client.send("/diffhost/subscribe", 12150, "::1")
    message = error_for(client, "/diffhost/subscribe")
    assert "host: '::1' is an IPv6 address, but diffhost listens on IPv4 (127.0.0.1)" in message
    assert "give an IPv4 address" in message
    client.send("/diffhost/subscribe", 12150, "studio-mac.local")  # no DNS on the server thread
    assert "is not an IP address" in error_for(client, "/diffhost/subscribe")
    assert server.subscribers.snapshot() == before
    ack = client.request("/diffhost/subscribe", 12150, "localhost", expect="/diffhost/subscribed")
    assert ack[1] == ["127.0.0.1", 12150]  # stored as the address answers will come from


def test_prompt_cap_is_shared(session):
    with pytest.raises(ValueError, match=f"valid is up to {MAX_TEXT_CHARS} characters"):
        session.set_param("prompt", "x" * (MAX_TEXT_CHARS + 1))
    with pytest.raises(ValueError, match="prompt: 1001 characters is too long"):
        session.build_request(prompt="x" * 1001)
