"""``python -m tests.differential [SCENARIO ...] [--record]``: see ``harness``."""

import sys

from .harness import main

sys.exit(main(sys.argv[1:]))
