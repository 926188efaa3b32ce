"""One meaning per flag name across the commands, and the earlier spellings still parse.

Parsed with the real parser `diffhost` uses (diffhost.cli.build_parser); the commands' runs with
these flags are covered where each command is tested (tests/osc/test_serve.py starts `serve`
with both spellings).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from diffhost.cli import build_parser

PARSER = build_parser()


def _subparsers(parser: argparse.ArgumentParser, prefix: str = ""):
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield f"{prefix}{name}", sub
                yield from _subparsers(sub, f"{prefix}{name} ")


COMMANDS = dict(_subparsers(PARSER))


def _visible_flags(parser: argparse.ArgumentParser) -> dict[str, argparse.Action]:
    return {
        flag: action
        for action in parser._actions
        if action.help != argparse.SUPPRESS
        for flag in action.option_strings
    }


@pytest.mark.parametrize(
    ("argv_new", "argv_old", "dest", "value"),
    [
        (["serve", "--osc-port", "9000"], ["serve", "--port", "9000"], "osc_port", 9000),
        (["serve", "--renders-dir", "out"], ["serve", "--renders", "out"], "renders_dir", Path("out")),
        (["serve", "--output-device", "USB"], ["serve", "--output", "USB"], "output_device", "USB"),
        (["serve", "--input-device", "3"], ["serve", "--input", "3"], "input_device", "3"),
        (["play", "a.wav", "--output-device", "USB"], ["play", "a.wav", "--output", "USB"], "output_device", "USB"),
        (
            ["record", "2", "-o", "s.wav", "--input-device", "Mic"],
            ["record", "2", "-o", "s.wav", "--input", "Mic"],
            "input_device",
            "Mic",
        ),
    ],
)
def test_the_earlier_spelling_means_the_same(argv_new, argv_old, dest, value):
    new, old = PARSER.parse_args(argv_new), PARSER.parse_args(argv_old)
    assert getattr(new, dest) == getattr(old, dest) == value
    assert vars(new) == vars(old)


def test_defaults_stand_when_neither_spelling_is_given():
    args = PARSER.parse_args(["serve"])
    assert args.osc_port == 12000 and args.renders_dir == Path("renders")
    assert args.output_device is None and args.input_device is None


def test_earlier_spellings_are_not_listed_in_help():
    text = COMMANDS["serve"].format_help()
    assert "--osc-port" in text and "--renders-dir" in text and "--output-device" in text
    for old in ("--port ", "--renders ", "--output ", "--input "):
        assert old not in text, old


def test_each_visible_flag_means_one_thing_in_every_command():
    """A flag name shared by commands has one destination everywhere, and is a path in all of them
    or in none (a device name and a file once shared --output)."""
    seen: dict[str, tuple[str, object, str]] = {}
    clashes = []
    for command, parser in COMMANDS.items():
        for flag, action in _visible_flags(parser).items():
            meaning = (action.dest, action.type is Path)
            if flag in seen and seen[flag][:2] != meaning:
                clashes.append(f"{flag}: {seen[flag][2]} {seen[flag][:2]} vs {command} {meaning}")
            seen.setdefault(flag, (*meaning, command))
    assert not clashes, "\n".join(clashes)


def test_the_check_above_can_fail():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers()
    sub.add_parser("a").add_argument("--output", type=Path)
    sub.add_parser("b").add_argument("--output")  # a device name: another meaning
    flags = [{f: (a.dest, a.type is Path) for f, a in _visible_flags(s).items()} for _, s in _subparsers(p)]
    assert flags[0]["--output"] != flags[1]["--output"]


@pytest.mark.parametrize("flag", ["--output", "-o"])
def test_output_is_always_a_file_or_folder_written(flag):
    for command, parser in COMMANDS.items():
        action = _visible_flags(parser).get(flag)
        if action is not None:
            assert action.type is Path, (command, flag)


def test_port_is_left_to_the_engine_server_s_http_port():
    users = [c for c, p in COMMANDS.items() if "--port" in _visible_flags(p)]
    assert users == ["engine-serve"], users
