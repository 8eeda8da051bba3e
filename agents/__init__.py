"""Programs that run on lab hosts. Standard library and prometheus-client only, so they deploy
to any host with python3 (Debian's, with python3-prometheus-client 0.16, or the project venv).

- ``agents.load``: the load agent, httperf or tbload driven for this client's share of the rate
  (``agents.load.service``: the same runs for a whole sweep, told each over HTTP).
- ``agents.idle``: the idle-connection agent, 10,000+ silent connections from one process
  (``agents.idle.service``: the same holds for a whole sweep, told each over HTTP).
- ``agents.workloads``: the one-byte file, the SPECweb99-like file set and session traces.
- ``agents.nginx``: nginx as a server under test.

``README.md`` beside this file names every module and the pure ones the orchestrator may
import; nothing here imports the orchestrator.
"""

import os as _os

# No `_created` series: they double every counter's series for a timestamp no panel uses.
# prometheus-client reads this when it is first imported (0.16, Debian's) or on every metric
# (newer); set here, before any agent module imports it. A value the user set stays.
_os.environ.setdefault("PROMETHEUS_DISABLE_CREATED_SERIES", "True")
