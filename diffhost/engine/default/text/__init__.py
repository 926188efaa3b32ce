"""The text side of the default model: the sentence encoder, and captions and prompt parsing
(tempo, key) in everyday words."""
