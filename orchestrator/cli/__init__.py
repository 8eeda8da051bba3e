"""The `orchestrate` command: one small function per subcommand, one module per group of them.

    orchestrate lab up lab.yml        build the lab on this machine: namespaces or machines
    orchestrate lab down lab.yml      remove it, leaving nothing behind
    orchestrate preflight lab.yml     check every host; non-zero exit if any fails
    orchestrate provision lab.yml     run the playbooks (a second run changes nothing)
    orchestrate plan lab.yml          the points, what `up` creates, its estimated wall time
    orchestrate up lab.yml            all of the above, then the sweep (resumed if unfinished)
    orchestrate status lab.yml        where the lab's sweeps stand
    orchestrate down lab.yml          stop everything the orchestrator started on the hosts
    orchestrate export results/       one row per point, CSV or JSON
    orchestrate report results/       the paper's figures and Table 1 of a sweep, as HTML
    orchestrate compare results/ A B  sweep B against sweep A; exit 1 if anything got worse
    orchestrate nightly lab.yml       a new sweep compared with the baseline (exit 1: regressed)
    orchestrate schedule add|list|remove  run `nightly` every day (systemd timer or cron)
    orchestrate baseline set|show     the sweep nightly runs compare with
    orchestrate watch lab.yml         the live run in the terminal, from Prometheus
    orchestrate monitoring up|down    start or stop the lab's Prometheus
    orchestrate dashboards publish    the data source and dashboards in Grafana
    orchestrate dashboards export DIR Grafana file-provisioning YAML and the dashboards' JSON
    orchestrate version [--json]      the orchestrator's version and what it runs with

Conventions every subcommand follows: `-h`/`--help`, `-v`/`--verbose` and `-q`/`--quiet`; its
help ends with its exit statuses (EXIT_CODES: 0 done, 1 a failed run or a regression, 2 bad
input, 3 the lab is busy, 130 Ctrl-C); `--json` output is one JSON document on stdout.
`main()` maps expected failures (`TestbedError`) to one line per problem on stderr and that exit
status, never a traceback.
"""

from orchestrator.cli.app import app, main
from orchestrator.cli.conventions import EXIT_CODES

# Each module registers its subcommands on `app` when imported; the order is the help's order.
from orchestrator.cli import lab_commands, monitoring_commands, nightly_commands  # noqa: F401  isort: skip
from orchestrator.cli import results_commands  # noqa: F401  isort: skip
from orchestrator.cli import about_commands  # noqa: F401  isort: skip

__all__ = ["EXIT_CODES", "app", "main"]
