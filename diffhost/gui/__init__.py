"""diffhost gui: the PyQt6 desktop window. The only package that imports Qt.

Widgets drive a host.session.Session and read its events on a QTimer
(gui.bridge); blocking work (disk, recording, opening devices) runs on
gui.tasks threads. Nothing here renders audio or touches torch.
"""
