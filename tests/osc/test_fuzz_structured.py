"""Structure-aware fuzz (hypothesis) over the address space, type tags and values: a few thousand
messages here; bench/osc_fuzz_soak.py runs the same strategies for 200,000 and more."""

from __future__ import annotations

from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from osc_helpers import write_wav
from osc_strategies import FuzzChecker, datagrams

from diffhost.engine.engine import Engine
from diffhost.host.session import Session
from diffhost.osc.server import OscConfig, OscServer


def test_structured_fuzz_answers_everything_and_refusals_change_nothing(dirs):
    wav = str(write_wav(dirs["audio"] / "seed.wav", seconds=0.1))
    (dirs["audio"] / "folder").mkdir()
    paths = [wav, "seed.wav", str(dirs["audio"] / "folder"), str(dirs["outside"]), str(dirs["renders"])]
    engine = Engine(max_queue=4)  # not started: renders stay queued, so the queue's bound is exercised
    session = Session(engine, renders_dir=dirs["renders"])
    server = OscServer(session, OscConfig(port=0, folders=(dirs["audio"],)))  # dispatcher only
    checker = FuzzChecker(server, session)

    @settings(
        max_examples=150,
        deadline=None,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.lists(datagrams(paths), min_size=10, max_size=30))
    def run(batch: list[bytes]) -> None:
        for data in batch:
            checker.check(data)

    try:
        run()
    finally:
        session.close()
    assert not checker.problems, checker.problems[:5]
    assert checker.messages >= 2000 and checker.errors_only > 500
    assert engine.pending() <= 4
