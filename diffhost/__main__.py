"""`python -m diffhost` is the `diffhost` command (useful from a checkout or a worktree)."""

import sys

from diffhost.cli import main

sys.exit(main())
