"""`python -m orchestrator.cli`, as the `orchestrate` script."""

import sys

from orchestrator.cli import main

sys.exit(main())
