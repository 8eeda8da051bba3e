"""A lab of machines: every inventory host a booted Debian 12 container on this machine.

    lab = load_lab(Path("labs/machines.yml"))        # emulate: machines
    MachinesLab(lab, note=print).up()   # idempotent: builds the image once, boots what is down
    MachinesLab(lab).down()             # stops every machine, removes layers, mounts, networks

Unlike the emulated lab (namespaces sharing this machine's file system and init), each host
here is a machine of its own, so the orchestrator drives it exactly as a physical host:
`emulate` is not true, every real-host task of the playbooks runs.

- Root file system: the cached base image (`image`) as the read-only lower layer of an overlay,
  with the host's own upper layer in the lab's state directory (`machines/<host>/`).
- Init: `systemd-nspawn --boot` runs the image's systemd as PID 1 (machinectl is not needed:
  `--register=no`, and `--keep-unit` since this machine's own PID 1 may not be systemd). The
  nspawn process is started here, detached; its pid file is how `lab down` stops it (SIGTERM
  powers the machine off, SIGKILL after a grace period).
- CPUs: as on a real host, the sweep pins the server and the agents with taskset inside the
  machine (`testbed_cpus`); the machine itself is not pinned, so provisioning (apt, dpkg,
  the compiler) uses every CPU instead of queueing all clients on one.
- Network: the host's namespace from `LabNetwork`, joined with `--network-namespace-path`;
  `--private-network` with it makes /proc/sys/net writable and keeps CAP_NET_ADMIN, as on a
  real host (the machine-wide fs.* and kernel.* stay read-only: the kernel is this machine's).
- SSH: the image's sshd, started by the machine's systemd, with a host key generated here per
  machine and the lab's key in root's authorized_keys. The host keys go into the user's
  ~/.ssh/known_hosts, in a block `lab down` removes (`knownhosts`), so SSH checks them the way
  it checks a physical lab's.
- The guest's tree is the guest's: it runs as root without user namespaces, so a link it left
  (`/root/.ssh/authorized_keys -> /etc/passwd`) would lead a plain `open()` here into this
  machine's files. Everything `lab up` writes into a machine's tree, and the host key it reads
  back, goes through `guestfs`, which never follows a link and refuses, all or nothing.
- apt: the machines have only the lab's networks; `aptproxy` on the orchestrator's management
  address forwards their apt to the Debian mirror (/etc/apt/apt.conf.d/01testbed-proxy).
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from orchestrator import local
from orchestrator.config.model import Host, Lab
from orchestrator.errors import TestbedError
from orchestrator.lab.guestfs import GuestFile, GuestTree
from orchestrator.lab.image import base_image, mirror
from orchestrator.lab.knownhosts import (
    forget_host_keys,
    known_hosts_path,
    other_entries_for,
    record_host_keys,
)
from orchestrator.lab.outline import LabBuilder, Warn
from orchestrator.lab.sshd import new_key
from orchestrator.lab.wiring import (
    kill_namespace_processes,
    namespace_pids,
    port_open,
    read_pid,
)
from orchestrator.paths import REPOSITORY, image_root

APT_PROXY_PORT = 3142  # apt-cacher-ng's, the usual apt proxy port
BOOT_WAIT_SECONDS = 90.0
STOP_GRACE_SECONDS = 20.0
HOST_KEY = "etc/ssh/ssh_host_ed25519_key"  # inside a machine's tree
APT_PROXY_FILE = "etc/apt/apt.conf.d/01testbed-proxy"
PUBLIC_KIND = re.compile(r"[a-z0-9@.-]{1,64}")  # ssh-ed25519, sk-ssh-ed25519@openssh.com
BASE64 = re.compile(r"[A-Za-z0-9+/]{1,8192}={0,2}")


def nspawn_command(root: Path, namespace: str, host: Host) -> list[str]:
    """The command that boots one machine (a pure function, tested as a list)."""
    command = [
        "systemd-nspawn",
        "--quiet",
        "--boot",
        "--register=no",
        "--keep-unit",
        f"--directory={root}",
        f"--machine={namespace}",
        f"--hostname={host.name}",
        "--private-network",
        f"--network-namespace-path=/run/netns/{namespace}",
        "--link-journal=no",
        "--resolv-conf=off",
        "--timezone=off",
        "--console=passive",
    ]
    return command


def overlay_options(lower: Path, upper: Path, work: Path) -> str:
    return f"lowerdir={lower},upperdir={upper},workdir={work}"


def known_hosts_entry(host: Host, public_key: str) -> str:
    """A known_hosts line for the host's management address (bracketed with a port)."""
    name = host.management if host.ssh_port == 22 else f"[{host.management}]:{host.ssh_port}"
    kind, key = public_key.split()[:2]
    return f"{name} {kind} {key}"


def personalise(guest: GuestTree, host: Host, authorized_keys: str, proxy_url: str) -> None:
    """What makes a machine this host: its name, a host key (made once, here), who may log in
    and where its apt goes. Written through `guestfs`, all or nothing: the guest's tree is the
    guest's, and a link it left there is refused, never followed into this machine's files."""
    files = [
        GuestFile("etc/hostname", f"{host.name}\n".encode()),
        GuestFile("etc/hosts", f"127.0.0.1 localhost\n127.0.1.1 {host.name}\n".encode()),
        GuestFile("root/.ssh/authorized_keys", authorized_keys.encode(), 0o600, parents_mode=0o700),
        GuestFile(
            APT_PROXY_FILE,
            (
                f"// written by `orchestrate lab up`: this lab reaches {mirror()} through\n"
                f'Acquire::http::Proxy "{proxy_url}";\n'
            ).encode(),
        ),
    ]
    if not (guest.is_file(HOST_KEY) and guest.is_file(f"{HOST_KEY}.pub")):
        private, public = _new_host_key(f"root@{host.name}")
        files += [GuestFile(HOST_KEY, private, 0o600), GuestFile(f"{HOST_KEY}.pub", public)]
    guest.write_all(files)


def guest_host_key(guest: GuestTree) -> str:
    """The machine's public host key as `personalise` wrote it, read without following a link;
    TestbedError if what the guest left there is not one."""
    text = guest.read(f"{HOST_KEY}.pub").decode(errors="replace")
    words = text.split()
    if len(words) < 2 or not (PUBLIC_KIND.fullmatch(words[0]) and BASE64.fullmatch(words[1])):
        raise TestbedError(f"machine {guest.machine}: /{HOST_KEY}.pub holds no public key")
    return f"{words[0]} {words[1]}"


def _new_host_key(comment: str) -> tuple[bytes, bytes]:
    """A fresh ed25519 key pair (private, public), made in a private directory of ours."""
    with tempfile.TemporaryDirectory(prefix="testbed-hostkey.") as directory:
        key = Path(directory) / "key"
        new_key(key, comment)
        return key.read_bytes(), Path(f"{key}.pub").read_bytes()


class MachinesLab(LabBuilder):
    """Boots and removes the machines of one lab (the outline: `outline.LabBuilder`). See the
    module docstring."""

    def __init__(self, lab: Lab, warn: Warn = lambda message: None, note: Warn | None = None):
        if not lab.machines:
            raise TestbedError(f"{lab.path}: emulate is not 'machines': not a lab of machines")
        super().__init__(lab, warn)
        self.note = note or warn

    # -- public ------------------------------------------------------------------------------

    def exists(self) -> bool:
        return self.network.exists() or any(self._running(host) for host in self.lab.hosts)

    def machine_dir(self, host: Host) -> Path:
        return self.state / "machines" / host.name

    def down(self) -> None:
        """Power off every machine, unmount and remove its layer, then the networks, the apt
        proxy, the known_hosts block and the lab's state; fine if none of it exists."""
        _require_root()
        self._stop_all()
        for host in self.lab.hosts:
            self._unmount(host)
        self.network.down()
        self._stop_apt_proxy()
        forget_host_keys(self.lab.name)
        leftovers = [str(path) for path in _mounts_under(self.state)]
        if leftovers:
            raise TestbedError(f"still mounted, not removed: {', '.join(leftovers)}")
        shutil.rmtree(self.state, ignore_errors=True)

    def describe(self) -> dict[str, object]:
        """What the lab is made of, for `lab.json` and for tests."""
        return {
            "lab": self.lab.name,
            "kind": "machines",
            "bridges": self.network.bridge_names,
            "orchestrator": f"{self.lab.orchestrator_address}",
            "apt_proxy": self._proxy_url(),
            "hosts": {
                host.name: {
                    "namespace": self.network.namespace(host),
                    "management": host.management,
                    "root": str(self.machine_dir(host) / "root"),
                    "nspawn_pid": read_pid(self.machine_dir(host) / "nspawn.pid"),
                }
                for host in self.lab.hosts
            },
        }

    # -- the steps: boot whatever machine is down ------------------------------------------------

    def _check(self) -> None:
        _require_tools()

    def _build(self) -> None:
        image = base_image(self.note)
        self._lab_key()
        self.network.bridges()
        self._apt_proxy()
        cpus = set(os.sched_getaffinity(0))
        for index, host in enumerate(self.lab.hosts):
            self.network.host(index, host)
            self._boot(host, image, cpus)
        self._wait_for_ssh(BOOT_WAIT_SECONDS, 0.1, f"{self.state / 'machines'}/<host>/nspawn.log")
        self._known_hosts()

    def _running(self, host: Host) -> int | None:
        """The pid of the host's nspawn if it runs (and is ours), else None."""
        pid = read_pid(self.machine_dir(host) / "nspawn.pid")
        if pid is None:
            return None
        wanted = f"--machine={self.network.namespace(host)}"
        return pid if wanted in _cmdline(pid) else None

    def _boot(self, host: Host, image: Path, cpus: set[int]) -> None:
        if self._running(host):
            return
        directory = self.machine_dir(host)
        root = directory / "root"
        for part in ("upper", "work", "root"):
            (directory / part).mkdir(parents=True, exist_ok=True)
        if not os.path.ismount(root):
            options = overlay_options(image, directory / "upper", directory / "work")
            local.run(["mount", "-t", "overlay", "overlay", "-o", options, str(root)])
        authorized = Path(f"{self.identity.private_key}.pub").read_text()  # ours, not the guest's
        personalise(GuestTree(root, host.name), host, authorized, self._proxy_url())
        missing = [cpu for cpu in host.cpus if cpu not in cpus]
        if missing:  # the sweep's taskset inside the machine would fail on them
            self.warn(
                f"{host.name}: CPUs {list(host.cpus)} requested, this machine has {sorted(cpus)}"
            )
        command = nspawn_command(root, self.network.namespace(host), host)
        with (directory / "nspawn.log").open("ab") as log:
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,  # outlives `lab up`; `lab down` stops it by its pid
            )
        (directory / "nspawn.pid").write_text(f"{process.pid}\n")

    def _stop_all(self) -> None:
        """Power every machine off at once (SIGTERM to nspawn: a clean shutdown of its
        systemd), kill those still up after a grace period, then anything left in their
        namespaces (a machine whose nspawn died leaves its processes)."""
        running = {host.name: pid for host in self.lab.hosts if (pid := self._running(host))}
        for pid in running.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while any(_alive(pid) for pid in running.values()) and time.monotonic() < deadline:
            time.sleep(0.1)
        for name, pid in running.items():
            if _alive(pid):
                self.warn(f"{name}: did not power off in {STOP_GRACE_SECONDS:.0f} s: killed")
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
        for host in self.lab.hosts:
            namespace = self.network.namespace(host)
            if namespace_pids(namespace):
                kill_namespace_processes(namespace)

    def _unmount(self, host: Host) -> None:
        for mount in sorted(_mounts_under(self.machine_dir(host)), reverse=True):
            if local.run(["umount", str(mount)], check=False).returncode != 0:
                local.run(["umount", "--lazy", str(mount)], check=False)

    # -- keys --------------------------------------------------------------------------------------

    def _known_hosts(self) -> None:
        entries = []
        for host in self.lab.hosts:
            upper = GuestTree(self.machine_dir(host) / "upper", host.name)
            entries.append(known_hosts_entry(host, guest_host_key(upper)))
        path = known_hosts_path()
        others = other_entries_for(
            path.read_text() if path.exists() else "",
            self.lab.name,
            [entry.split()[0] for entry in entries],
        )
        if others:
            self.warn(
                f"{path} also holds other keys for this lab's addresses ({len(others)} lines):"
                " SSH may refuse the machines; remove them (ssh-keygen -R ADDRESS)"
            )
        record_host_keys(self.lab.name, entries)

    # -- the apt proxy ---------------------------------------------------------------------------

    def _proxy_url(self) -> str:
        return f"http://{self.lab.orchestrator_address}:{APT_PROXY_PORT}/"

    def _apt_proxy_pid(self) -> int | None:
        pid = read_pid(self.state / "aptproxy.pid")
        if pid is None:
            return None
        command = _cmdline(pid)
        listen = f"{self.lab.orchestrator_address}:{APT_PROXY_PORT}"
        return pid if "orchestrator.lab.aptproxy" in command and listen in command else None

    def _apt_proxy(self) -> None:
        if self._apt_proxy_pid() is not None:
            return
        host = mirror().split("://", 1)[-1].split("/", 1)[0]
        log = (self.state / "aptproxy.log").open("ab")
        with log:
            process = subprocess.Popen(
                [
                    *(sys.executable, "-m", "orchestrator.lab.aptproxy"),
                    f"--listen={self.lab.orchestrator_address}:{APT_PROXY_PORT}",
                    f"--cache={image_root() / 'apt-cache'}",
                    f"--allow={host}",
                ],
                cwd=REPOSITORY,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        (self.state / "aptproxy.pid").write_text(f"{process.pid}\n")
        deadline = time.monotonic() + 10
        while not port_open(str(self.lab.orchestrator_address), APT_PROXY_PORT):
            if process.poll() is not None or time.monotonic() > deadline:
                raise TestbedError(f"the apt proxy did not start (see {log.name})")
            time.sleep(0.05)

    def _stop_apt_proxy(self) -> None:
        pid = self._apt_proxy_pid()
        if pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            deadline = time.monotonic() + 5
            while _alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)


# -- this machine ----------------------------------------------------------------------------------


def _require_root() -> None:
    if os.geteuid() != 0:
        raise TestbedError("a lab of machines needs root (namespaces, mounts, containers)")


def _require_tools() -> None:
    _require_root()
    missing = [tool for tool in ("systemd-nspawn", "mmdebstrap") if shutil.which(tool) is None]
    if missing:
        raise TestbedError(
            f"{', '.join(missing)} not found: a lab of machines needs Debian's systemd-container"
            " and mmdebstrap (scripts/install-deps installs both)"
        )


def _mounts_under(directory: Path) -> list[Path]:
    """Mount points at or below `directory`, from /proc/self/mounts."""
    prefix = str(directory)
    found = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point == prefix or point.startswith(prefix + "/"):
            found.append(Path(point))
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


def _alive(pid: int) -> bool:
    """True while `pid` runs and is not a zombie; reaps it if it is our child."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"
