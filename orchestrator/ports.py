"""Every TCP port the lab uses, in one place.

The sweep starts the server and the agents on these ports, Prometheus scrapes them, and
provisioning hands NODE_EXPORTER_PORT to the playbooks (`testbed_node_exporter_port`), so a
port changed here changes everywhere. The agents keep the same numbers as their own defaults,
since they run on hosts without this package.
"""

SERVER_PORT = 8080  # the server under test's HTTP
SERVER_METRICS_PORT = 9180  # the server's /metrics (its counters, Table 1)
LOAD_METRICS_PORT = 9181  # each load agent's exporter, while it runs
IDLE_METRICS_PORT = 9182  # each idle-connection agent's exporter, while it runs
ORCHESTRATOR_METRICS_PORT = 9188  # the orchestrator's own exporter: which point, which phase
NODE_EXPORTER_PORT = 9100  # prometheus-node-exporter on every host
