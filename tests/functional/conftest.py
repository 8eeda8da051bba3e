"""One emulated lab for the functional tests that can share it, built once per session and
always torn down at its end.

    def test_x(on_shared_lab: SharedLab, tmp_path: Path) -> None:
        path = on_shared_lab.lab_file(tmp_path, "x", experiment=SHORT)   # its own lab file
        orchestrate("up", str(path), state=on_shared_lab.state)

Building and provisioning a lab costs about 40 s; a module of its own each paid it, and every
`up` after that paid Ansible's no-change run again (25 s). The shared lab is built once, and `up`
provisions it only when what provisioning depends on changed (a `servers:` section's packages,
say: `orchestrate.lab.provision`). Each test's lab file names the shared lab and inventory but
has its own experiment, results directory (so its own store and reports) and Prometheus port.

Tests that build, break or remove labs themselves (test_lab, test_machines, test_schedule) keep
their own.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from orchestrator.config.labfile import load_lab
from orchestrator.lab.builders import lab_builder
from tests.support.labfiles import write_lab
from tests.support.labtools import free_block, orchestrate
from tests.support.sharedlab import LAB_FILES, SHARED_NAME, SharedLab, stop_prometheus


@pytest.fixture(scope="session")
def shared_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SharedLab]:
    """Built on a free block (`free_block`) and torn down at the session's end, whatever
    happened. TESTBED_STATE_DIR is set only while it is built and removed, never for the
    session: every test names the state it uses."""
    directory = tmp_path_factory.mktemp("shared-lab")
    second, third = free_block()
    path = write_lab(directory, name=SHARED_NAME, second_octet=second, third_base=third)
    state = directory / "state"
    lab = load_lab(path)
    try:
        built = orchestrate("lab", "up", str(path), state=state)
        assert built.returncode == 0, built.stdout[-2000:] + built.stderr
        yield SharedLab(SHARED_NAME, path, state)
    finally:
        stop_prometheus(LAB_FILES)
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("TESTBED_STATE_DIR", str(state))
            lab_builder(lab).down()


@pytest.fixture(scope="module")
def on_shared_lab(shared_lab: SharedLab) -> Iterator[SharedLab]:
    """For a module's tests on the shared lab: TESTBED_STATE_DIR names its state while they run
    (a lab file loaded in the test, as the orchestrator loads it, puts each emulated host's
    directory there), and the Prometheus of every lab file the module wrote is stopped when it
    ends."""
    before = len(LAB_FILES)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("TESTBED_STATE_DIR", str(shared_lab.state))
        yield shared_lab
    stop_prometheus(LAB_FILES[before:])


# The order the shared lab's users need. test_servers first: its lab file adds nginx to what
# provisioning installs, so the lab is provisioned for it, and its last test provisions once more
# with a lab file without (a no-change run: the packages stay); after it nothing changes, and
# every later `up` skips provisioning. test_wan last: its last test removes the lab (`lab down`
# leaves no WAN device behind).
FIRST, LAST = ("test_servers.py",), ("test_wan.py",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    def place(item: pytest.Item) -> int:
        name = item.path.name
        return -1 if name in FIRST else 1 if name in LAST else 0

    items.sort(key=place)  # stable: the rest keep their order
