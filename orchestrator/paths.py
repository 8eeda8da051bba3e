"""Where the orchestrator finds what it ships, and keeps per-lab state on the orchestrator host.

`resource(name)` is one of the directories the tool needs at run time (`dashboards`,
`playbooks`, `server`, `tbload`, `agents`): from the installed package (a wheel carries them as
package data under `orchestrator/data/`, see setup.py) or, in a checkout, from the repository
itself.

`TESTBED_STATE_DIR` (default /var/lib/testbed) holds one directory per lab name: the lab's SSH
key and known_hosts, Ansible run directories, and for an emulated lab each host's directory.
Tests point it at a temporary directory. The tool's own shared directory, the machines labs'
image cache (`TESTBED_IMAGE_DIR`, by default `images/` there), is in the same namespace: a lab
whose directory would be it, hold it or sit in it is refused at load (`shared_directory_clash`),
as its `lab down` would remove the cache from under every other lab.
"""

from __future__ import annotations

import importlib.resources
import os
from pathlib import Path

DEFAULT_STATE_ROOT = Path("/var/lib/testbed")
IMAGES = "images"  # the image cache's directory under the state root
# The checkout this module runs from; in a wheel install, site-packages (no dashboards there).
REPOSITORY = Path(__file__).resolve().parent.parent
RESOURCES = ("agents", "dashboards", "linkem", "playbooks", "server", "tbload")


def resource(name: str) -> Path:
    """The directory `name` (one of RESOURCES) as shipped with this installation."""
    if name not in RESOURCES:
        raise ValueError(f"{name!r}: not a resource the tool ships ({', '.join(RESOURCES)})")
    if name == "agents":  # a Python package of its own, installed beside orchestrator
        found = importlib.resources.files("agents")
    else:
        found = importlib.resources.files("orchestrator").joinpath("data", name)
    # Installed from a wheel, or a checkout: both are plain directories (never zipped).
    if isinstance(found, Path) and found.is_dir():
        return found
    return REPOSITORY / name


def state_root() -> Path:
    return Path(os.environ.get("TESTBED_STATE_DIR", str(DEFAULT_STATE_ROOT)))


def lab_state_dir(lab_name: str) -> Path:
    return state_root() / lab_name


def image_root() -> Path:
    """The machines labs' shared cache: base images and the apt proxy's packages."""
    return Path(os.environ.get("TESTBED_IMAGE_DIR", str(state_root() / IMAGES)))


def shared_directory_clash(lab_name: str) -> str | None:
    """Why `lab_state_dir(lab_name)` cannot be a lab's (it is, holds or sits in the tool's
    shared image cache), or None when it can."""
    mine, cache = lab_state_dir(lab_name).resolve(), image_root().resolve()
    if mine == cache or mine in cache.parents or cache in mine.parents:
        return (
            f"a lab of this name would keep its state in {mine}, which is or holds the"
            f" machines labs' shared image cache ({cache}, TESTBED_IMAGE_DIR): `lab down`"
            " would remove it; choose another name"
        )
    return None


def emulated_host_dir(lab_name: str, host: str) -> Path:
    """The directory that stands for host `host`'s own disk in an emulated lab."""
    return lab_state_dir(lab_name) / "hosts" / host


LOG_MODE = 0o640  # logs may name hosts, paths and errors: readable by the owner's group only


def log_file(path: Path) -> Path:
    """Make `path` a log file of mode LOG_MODE (created empty if missing, narrowed if wider),
    so whoever appends to it afterwards (we, cron's shell, sshd) writes into a private file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, LOG_MODE)
    try:
        os.fchmod(descriptor, LOG_MODE)
    finally:
        os.close(descriptor)
    return path
