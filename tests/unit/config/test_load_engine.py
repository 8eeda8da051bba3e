"""The lab file's `load: {engine: ...}`: httperf unless it says tbload, one line for a bad value,
and a plan digest that tells the two apart (a sweep is resumed only with the same engine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.load.args import ENGINES
from orchestrator.config.labfile import load_lab
from orchestrator.config.model import LOAD_ENGINES
from orchestrator.config.plan import plan_digest
from tests.support.labfiles import REPOSITORY, the_one_problem, write_lab


def test_the_orchestrator_offers_the_engines_the_agents_run() -> None:
    assert LOAD_ENGINES == ENGINES


def test_httperf_unless_the_lab_file_says_tbload(tmp_path: Path) -> None:
    assert load_lab(REPOSITORY / "paper.yml", routes=list).load.engine == "httperf"
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    plain = load_lab(write_lab(tmp_path / "a", lab_changes={"load": {}}), routes=list)
    assert plain.load.engine == "httperf"
    tb = load_lab(
        write_lab(tmp_path / "b", lab_changes={"load": {"engine": "tbload"}}), routes=list
    )
    assert tb.load.engine == "tbload"
    # another engine measures other points: a sweep under one is never resumed under the other
    assert plan_digest(tb) != plan_digest(plain)


@pytest.mark.parametrize(
    ("load", "expected"),
    [
        ({"engine": "wrk"}, "load.engine: 'wrk': expected one of httperf, tbload"),
        ({"engine": "tbloads"}, "load.engine: 'tbloads': expected one of httperf, tbload"),
        ({"engin": "tbload"}, "load.engin: unknown key (did you mean 'engine'?)"),
        ("tbload", "load: 'tbload': expected a mapping with keys engine"),
    ],
)
def test_a_bad_load_section_is_one_line_naming_file_field_and_value(
    tmp_path: Path, load: object, expected: str
) -> None:
    path = write_lab(tmp_path, lab_changes={"load": load})
    assert expected in the_one_problem(path)
