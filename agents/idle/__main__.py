"""``python3 -m agents.idle``: the one-shot idle-connection agent (``agents.idle.cli``)."""

import sys

from agents.idle.cli import main

sys.exit(main())
