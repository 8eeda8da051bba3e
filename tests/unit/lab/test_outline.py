"""The outline both lab builders follow (`lab.outline.LabBuilder`): `up` takes down a lab it
was creating when a step fails, Ctrl-C included, and never one that was there before; a lab
that came up records what it is made of. Both real builders take this outline, so the rule
holds for namespaces and machines alike; the steps themselves are the lab tier's to run."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from orchestrator.errors import TestbedError
from orchestrator.lab.emulated import EmulatedLab
from orchestrator.lab.machines import MachinesLab
from orchestrator.lab.outline import LabBuilder
from tests.support.labfiles import default_lab


class Steps(LabBuilder):
    """A builder whose steps only say they ran; `fail` is raised by the build step, `refuse`
    by the check that comes before it."""

    def __init__(
        self, existed: bool, fail: BaseException | None = None, refuse: bool = False
    ) -> None:
        super().__init__(default_lab())
        self.existed, self.fail, self.refuse = existed, fail, refuse
        self.calls: list[str] = []

    def exists(self) -> bool:
        return self.existed

    def down(self) -> None:
        self.calls.append("down")

    def describe(self) -> dict[str, object]:
        return {"lab": self.lab.name}

    def _check(self) -> None:
        if self.refuse:
            raise TestbedError("this machine cannot build the lab (root, tools)")
        self.calls.append("check")

    def _build(self) -> None:
        self.calls.append("build")
        if self.fail is not None:
            raise self.fail
        self.state.mkdir(parents=True, exist_ok=True)


@pytest.mark.parametrize("failure", [TestbedError("sshd did not come up"), KeyboardInterrupt()])
def test_a_lab_created_now_is_taken_down_when_a_step_fails(
    state_dir: Path, failure: BaseException
) -> None:
    builder = Steps(existed=False, fail=failure)
    with pytest.raises(type(failure)):
        builder.up()
    assert builder.calls == ["check", "build", "down"]
    assert not (builder.state / "lab.json").exists()


def test_a_lab_that_was_up_before_is_never_taken_down(state_dir: Path) -> None:
    builder = Steps(existed=True, fail=TestbedError("a host's sshd did not come up"))
    with pytest.raises(TestbedError):
        builder.up()
    assert "down" not in builder.calls


def test_a_lab_that_came_up_records_what_it_is_made_of(state_dir: Path) -> None:
    builder = Steps(existed=False)
    builder.up()
    assert builder.calls == ["check", "build"]
    assert json.loads((builder.state / "lab.json").read_text()) == {"lab": builder.lab.name}


def test_a_lab_this_machine_cannot_build_is_refused_before_anything(state_dir: Path) -> None:
    builder = Steps(existed=False, refuse=True)
    with pytest.raises(TestbedError):
        builder.up()
    assert builder.calls == []


def test_both_builders_take_the_outline() -> None:
    assert issubclass(EmulatedLab, LabBuilder) and issubclass(MachinesLab, LabBuilder)
    assert "up" not in vars(EmulatedLab) and "up" not in vars(MachinesLab)
