"""``python3 -m agents.load``: the one-shot load agent (``agents.load.cli``)."""

import sys

from agents.load.cli import main

sys.exit(main())
