"""diffhost gui: PyQt6 only; nothing else imports Qt."""
