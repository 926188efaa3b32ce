"""The main window as the GUI tests open it: shown, active, and (with live audio) reset afterwards."""

from __future__ import annotations


def shown_window(qtbot, session, settings, **options):
    """The real main window, shown and active (so keys reach it). autoplay: off unless asked; None
    leaves it as the settings have it."""
    from diffhost.gui.main_window import MainWindow

    autoplay = options.pop("autoplay", False)
    w = MainWindow(session, settings=settings, **options)
    if autoplay is not None:
        w.autoplay.setChecked(autoplay)
    qtbot.addWidget(w)
    w.show()
    qtbot.waitExposed(w)
    w.activateWindow()
    return w


def live_window_of(qtbot, host_audio, session, settings, *, autoplay: bool | None):
    """The main window playing through host_audio; afterwards the pads are emptied and reset, as the
    module's other tests share host_audio."""
    session.audio = host_audio
    w = shown_window(qtbot, session, settings, autoplay=autoplay)
    yield w
    w.close()
    host_audio.stop_all()
    for n in range(1, 17):
        host_audio.clear_slot(n)
        host_audio.set_slot_options(n, gain=1.0, pan=0.0, mode="oneshot", choke_group=0, quantize=None)
    session.audio = None
