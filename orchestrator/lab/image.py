"""The base image of a lab of machines: a Debian 12 root file system, built once, then shared.

    root = base_image(note=print)   # /var/lib/testbed/images/debian-bookworm-1a2b3c4d

Built with Debian's `mmdebstrap` (`--variant=apt`: apt and the essential packages, plus systemd,
sshd, dbus, iproute2 and Python for Ansible) from the Debian mirror, which takes about half a
minute; every later `lab up` reuses it, read-only, as the lower layer of each machine's overlay.
Its SSH host keys are removed at build time: every machine gets its own (see `machines`).

The cache lives in `TESTBED_IMAGE_DIR`, by default `images/` under the state root; a lab's
`lab down` never removes it (delete the directory to rebuild). An image is complete when its
stamp file exists; concurrent builds wait on one lock.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from orchestrator.errors import TestbedError
from orchestrator.paths import image_root

SUITE = "bookworm"
MIRROR = "http://deb.debian.org/debian"
PACKAGES = ("systemd", "systemd-sysv", "openssh-server", "dbus", "iproute2", "python3")
# Run in the finished root: each machine gets host keys of its own, never the image's; and
# dpkg skips fsync (as mmdebstrap itself does while building): a machine is disposable, and
# unpacking a compiler on an overlay with a sync per file took minutes on a busy machine.
HOOKS = (
    'rm -f "$1"/etc/ssh/ssh_host_*_key "$1"/etc/ssh/ssh_host_*_key.pub',
    'echo force-unsafe-io > "$1"/etc/dpkg/dpkg.cfg.d/testbed-unsafe-io',
)
BUILD_TIMEOUT = 900.0


def mirror() -> str:
    """The Debian mirror the image is built from and its machines' apt uses."""
    return os.environ.get("TESTBED_DEBIAN_MIRROR", MIRROR)


def image_name() -> str:
    """Changes whenever what goes into the image changes, so an old cache is never reused."""
    recipe = json.dumps([SUITE, mirror(), PACKAGES, HOOKS])
    return f"debian-{SUITE}-{hashlib.sha1(recipe.encode()).hexdigest()[:8]}"


def mmdebstrap_command(target: Path) -> list[str]:
    """The build command (a pure function, tested as a list)."""
    return [
        "mmdebstrap",
        "--quiet",
        "--variant=apt",
        f"--include={','.join(PACKAGES)}",
        *(f"--customize-hook={hook}" for hook in HOOKS),
        SUITE,
        str(target),
        mirror(),
    ]


def base_image(note: Callable[[str], None] = lambda message: None) -> Path:
    """The image's root directory, built first if the cache lacks it; `note` hears how long."""
    root = image_root()
    path = root / image_name()
    stamp = path.with_suffix(".json")
    if stamp.exists():
        return path
    if shutil.which("mmdebstrap") is None:
        raise TestbedError(
            "mmdebstrap not found: a lab of machines builds its image with it "
            "(apt-get install mmdebstrap systemd-container, or scripts/install-deps)"
        )
    root.mkdir(parents=True, exist_ok=True)
    with (root / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another lab may be building the same image
        if stamp.exists():
            return path
        note(f"building the base image {path.name} with mmdebstrap (once; cached in {root})")
        building = root / f".{path.name}.{os.getpid()}"
        shutil.rmtree(building, ignore_errors=True)
        shutil.rmtree(path, ignore_errors=True)  # a build that died before its stamp
        started = time.monotonic()
        try:
            result = subprocess.run(
                mmdebstrap_command(building),
                capture_output=True,
                text=True,
                timeout=BUILD_TIMEOUT,
            )
        except subprocess.TimeoutExpired as expired:
            shutil.rmtree(building, ignore_errors=True)
            raise TestbedError(f"mmdebstrap: no image after {expired.timeout:.0f} s") from None
        if result.returncode != 0:
            shutil.rmtree(building, ignore_errors=True)
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise TestbedError(f"mmdebstrap failed: {lines[-1] if lines else result.returncode}")
        building.rename(path)
        seconds = time.monotonic() - started
        stamp.write_text(
            json.dumps(
                {"suite": SUITE, "mirror": mirror(), "packages": PACKAGES, "seconds": seconds},
                indent=2,
            )
            + "\n"
        )
        note(f"base image built in {seconds:.1f} s: {path}")
    return path
