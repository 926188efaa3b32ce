# The C mixer's compiled module (built by setup.py from _mixer_build.py with cffi) carries no type
# information; this tells the type checker what it holds. Its C declarations are in _mixer.h.
from typing import Any

ffi: Any
lib: Any
