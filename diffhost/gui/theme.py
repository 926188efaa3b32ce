"""A dark studio theme: Fusion style, a low-glare palette and one accent colour."""

from __future__ import annotations

from PyQt6.QtGui import QColor, QPalette
from PyQt6.QtWidgets import QApplication

BG = "#1b1d21"  # window
PANEL = "#23262b"  # group boxes, docks
FIELD = "#15171a"  # inputs, plots
LINE = "#33373e"
TEXT = "#d8dadf"
DIM = "#8a9099"
ACCENT = "#f0a030"  # amber, like a lit transport button
ACCENT_DARK = "#b8741a"
PLAYING = "#4cd07d"
READY = "#3d7ecf"
DANGER = "#e0524a"
PROGRESS = "#7a5218"  # a dark amber: the light stage text stays readable over the filled part

STYLESHEET = f"""
QWidget {{ color: {TEXT}; font-size: 10pt; }}
QMainWindow, QDialog {{ background: {BG}; }}
QDockWidget {{ titlebar-close-icon: none; }}
QDockWidget::title {{ background: {PANEL}; padding: 5px 8px; color: {DIM};
    text-transform: uppercase; font-weight: 600; letter-spacing: 1px; }}
QGroupBox {{ background: {PANEL}; border: 1px solid {LINE}; border-radius: 6px;
    margin-top: 16px; padding: 8px 6px 6px 6px; }}
QGroupBox::title {{ subcontrol-origin: margin; left: 10px; padding: 0 4px; color: {DIM};
    font-weight: 600; letter-spacing: 1px; }}
QLineEdit, QPlainTextEdit, QSpinBox, QDoubleSpinBox, QComboBox, QTableView, QListWidget {{
    background: {FIELD}; border: 1px solid {LINE}; border-radius: 4px; padding: 3px 5px;
    selection-background-color: {ACCENT_DARK}; selection-color: #ffffff; }}
QLineEdit:focus, QPlainTextEdit:focus, QSpinBox:focus, QDoubleSpinBox:focus, QComboBox:focus {{
    border: 1px solid {ACCENT}; }}
QPushButton, QToolButton {{ background: #2d3137; border: 1px solid {LINE}; border-radius: 4px;
    padding: 5px 10px; }}
QPushButton:hover, QToolButton:hover {{ background: #363b42; }}
QPushButton:pressed, QToolButton:pressed {{ background: #25282d; }}
QToolButton:checked, QPushButton:checked {{ background: {ACCENT_DARK}; color: #ffffff; border-color: {ACCENT}; }}
QPushButton:disabled, QToolButton:disabled {{ color: #5a6068; background: #24272b; }}
QPushButton#render {{ background: {ACCENT}; color: #1b1d21; font-weight: 700; border: none;
    padding: 7px 18px; }}
QPushButton#render:hover {{ background: #ffb347; }}
QPushButton#render:disabled {{ background: #6b5330; color: #2a2a2a; }}
QPushButton#pad {{ background: #2a2e34; border: 1px solid #3a3f47; border-radius: 6px;
    font-weight: 600; font-size: 9pt; text-align: center; padding: 4px; }}
QPushButton#pad[state="ready"] {{ background: #21354f; border: 1px solid {READY}; }}
QPushButton#pad[state="playing"] {{ background: #1f4a32; border: 1px solid {PLAYING}; color: #eaffef; }}
QProgressBar {{ background: {FIELD}; border: 1px solid {LINE}; border-radius: 4px; text-align: center;
    height: 14px; color: {TEXT}; }}
QProgressBar::chunk {{ background: {PROGRESS}; border-radius: 3px; }}
QTabWidget::pane {{ border: 1px solid {LINE}; border-radius: 4px; background: {PANEL}; }}
QTabBar::tab {{ background: {BG}; color: {DIM}; padding: 6px 14px; border: 1px solid {LINE};
    border-bottom: none; border-top-left-radius: 4px; border-top-right-radius: 4px; }}
QTabBar::tab:selected {{ background: {PANEL}; color: {TEXT}; border-bottom: 2px solid {ACCENT}; }}
QHeaderView::section {{ background: {PANEL}; color: {DIM}; border: none;
    border-right: 1px solid {LINE}; padding: 4px; }}
QStatusBar {{ background: #141518; color: {DIM}; }}
QToolBar {{ background: {PANEL}; border: none; border-bottom: 1px solid {LINE}; spacing: 6px; padding: 4px; }}
QMenuBar {{ background: {BG}; }} QMenuBar::item:selected {{ background: #2d3137; }}
QMenu {{ background: {PANEL}; border: 1px solid {LINE}; }}
QMenu::item:selected {{ background: {ACCENT_DARK}; }}
QSlider::groove:horizontal {{ height: 4px; background: {LINE}; border-radius: 2px; }}
QSlider::handle:horizontal {{ background: {ACCENT}; width: 12px; margin: -5px 0; border-radius: 6px; }}
QCheckBox::indicator {{ width: 14px; height: 14px; border: 1px solid #4a5059; border-radius: 3px;
    background: {FIELD}; }}
QCheckBox::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT}; }}
QListWidget::indicator {{ width: 13px; height: 13px; border: 1px solid #4a5059; border-radius: 3px;
    background: {FIELD}; }}
QListWidget::indicator:checked {{ background: {ACCENT}; border-color: {ACCENT}; }}
QLabel#dim {{ color: {DIM}; }}
QLabel#error {{ color: {DANGER}; }}
QLabel#value {{ color: {ACCENT}; font-family: monospace; }}
QLineEdit#bpm:disabled {{ color: {DIM}; background: #24272b; }}
QLabel#music {{ color: {TEXT}; border: 1px solid {ACCENT_DARK}; border-radius: 4px; padding: 1px 6px; }}
QToolTip {{ background: {PANEL}; color: {TEXT}; border: 1px solid {LINE}; padding: 4px; }}
"""


def configure_plots() -> None:
    """pyqtgraph colours; called before any plot is built (tests build widgets without apply_theme)."""
    import pyqtgraph as pg

    pg.setConfigOptions(antialias=False, background=FIELD, foreground=DIM)


def apply_theme(app: QApplication) -> None:
    app.setStyle("Fusion")
    pal = QPalette()
    roles = {
        QPalette.ColorRole.Window: BG,
        QPalette.ColorRole.WindowText: TEXT,
        QPalette.ColorRole.Base: FIELD,
        QPalette.ColorRole.AlternateBase: PANEL,
        QPalette.ColorRole.Text: TEXT,
        QPalette.ColorRole.Button: "#2d3137",
        QPalette.ColorRole.ButtonText: TEXT,
        QPalette.ColorRole.Highlight: ACCENT_DARK,
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.ToolTipBase: PANEL,
        QPalette.ColorRole.ToolTipText: TEXT,
        QPalette.ColorRole.PlaceholderText: DIM,
        QPalette.ColorRole.Link: ACCENT,
    }
    for role, colour in roles.items():
        pal.setColor(role, QColor(colour))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text, QColor("#5a6068"))
    pal.setColor(QPalette.ColorGroup.Disabled, QPalette.ColorRole.ButtonText, QColor("#5a6068"))
    app.setPalette(pal)
    app.setStyleSheet(STYLESHEET)
