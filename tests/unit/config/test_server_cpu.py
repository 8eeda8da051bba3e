"""The lab file's `server_cpu: {limit: ...}`: not capped unless it says so, one line for a bad
value, a cap above the server's pinned CPUs refused, and a plan digest and plan that tell a
capped server from a whole one."""

from __future__ import annotations

from pathlib import Path

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.config.plan import plan_digest
from orchestrator.run.plansummary import plan_summary
from tests.support.labfiles import REPOSITORY, the_one_problem, write_lab


def test_not_capped_unless_the_lab_file_says_so(tmp_path: Path) -> None:
    assert load_lab(REPOSITORY / "lab.yml", routes=list).server_cpu.limit is None
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    whole = load_lab(write_lab(tmp_path / "a", lab_changes={"server_cpu": {}}), routes=list)
    capped = load_lab(
        write_lab(tmp_path / "b", lab_changes={"server_cpu": {"limit": 0.4}}), routes=list
    )
    assert whole.server_cpu.limit is None and whole.server_cpu.quota_us is None
    assert capped.server_cpu.limit == 0.4 and capped.server_cpu.quota_us == 4_000
    # a capped server measures other points: a sweep is never resumed across the two
    assert plan_digest(capped) != plan_digest(whole)
    assert "server CPU: capped at 0.4 of a core" in "\n".join(plan_summary(capped).describe())
    assert "server CPU" not in "\n".join(plan_summary(whole).describe())


@pytest.mark.parametrize(
    ("server_cpu", "expected"),
    [
        ({"limit": 0}, "server_cpu.limit: 0: expected a positive number up to 1024"),
        ({"limit": "half"}, "server_cpu.limit: 'half': expected a positive number up to 1024"),
        ({"limit": 0.05}, "server_cpu.limit: 0.05: expected at least 0.1 of a core"),
        ({"limit": 1.5}, "server_cpu.limit: 1.5: more than the server's 1 pinned CPU (0)"),
        ({"limt": 0.4}, "server_cpu.limt: unknown key (did you mean 'limit'?)"),
        (0.4, "server_cpu: 0.4: expected a mapping with keys limit"),
    ],
)
def test_a_bad_server_cpu_section_is_one_line_naming_file_field_and_value(
    tmp_path: Path, server_cpu: object, expected: str
) -> None:
    path = write_lab(tmp_path, lab_changes={"server_cpu": server_cpu})
    assert expected in the_one_problem(path)


def test_knee_yml_caps_the_server_and_drives_it_with_tbload() -> None:
    knee = load_lab(REPOSITORY / "knee.yml", routes=list)
    assert (knee.server_cpu.limit, knee.load.engine) == (0.4, "tbload")
    assert knee.experiment.idle_connections == (0,)
    assert set(knee.experiment.mechanisms) == {"select", "poll", "epoll-lt", "epoll-et", "epoll2"}
    # its own points: a sweep of lab.yml is never resumed under it
    assert plan_digest(knee) != plan_digest(load_lab(REPOSITORY / "lab.yml", routes=list))
