"""Files inside a machine's root file system, read and written from this machine without ever
following the guest's symbolic links.

    guest = GuestTree(Path(".../machines/server/root"), "server")
    guest.write_all([GuestFile("etc/hostname", b"server\\n"), ...])   # all checked, then written
    text = guest.read("etc/ssh/ssh_host_ed25519_key.pub")

A machine runs as root without user namespaces, and `lab up` writes into its tree as root on
this machine. Whatever the guest left there is the guest's: `/root/.ssh/authorized_keys ->
/etc/passwd`, or a parent `/root/.ssh -> /etc`, would be followed by a plain `open()` into this
machine's own files. So every access here walks the path one component at a time from a
descriptor of the tree's root: each directory is opened relative to the one before (openat)
with O_NOFOLLOW|O_DIRECTORY, the file itself with O_NOFOLLOW, and only a regular file is read
or written (looked at through O_PATH before it is opened: a FIFO the guest left cannot hang us,
a device node is never opened). Modes are set on the open descriptor (fchmod), never by path.
Anything else is refused with one line naming the machine and the path (`TestbedError`).

`write_all` checks every file before it writes any, so a refused tree is left as it was.
The machine is powered off while `lab up` writes, so nothing moves between check and write;
the write itself walks the same safe way, so it would refuse rather than follow if it did.
"""

from __future__ import annotations

import errno
import os
import stat
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from orchestrator.errors import TestbedError

READ_LIMIT = 1 << 16  # what `lab up` reads from a guest is a key: never more than this
_DIRECTORY = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC
_WHAT = {
    errno.ELOOP: "a symbolic link",
    errno.ENOTDIR: "not a directory",
    errno.EISDIR: "a directory",
}


@dataclass(frozen=True)
class GuestFile:
    """One file to write into a guest's tree."""

    path: str  # relative to the tree's root: "root/.ssh/authorized_keys"
    data: bytes
    mode: int = 0o644
    parents_mode: int | None = None  # create missing parent directories with it; None: none


class Refused(Exception):
    """Why a path inside the tree cannot be used (the caller names the machine)."""


class GuestTree:
    """A machine's root file system (or its overlay's upper layer) seen from this machine;
    see the module docstring."""

    def __init__(self, root: Path, machine: str) -> None:
        self.root = root
        self.machine = machine

    def read(self, path: str, limit: int = READ_LIMIT) -> bytes:
        """The content of the regular file `path`; TestbedError if it is absent, a link, not a
        regular file, larger than `limit` bytes, or a link is on its way."""
        try:
            with self._parent(path, create=None) as directory:
                if directory is None:
                    raise Refused(f"/{path} is absent")
                with _opened(path, directory) as descriptor:
                    data = b""
                    while len(data) <= limit and (chunk := os.read(descriptor, 1 << 16)):
                        data += chunk
            if len(data) > limit:
                raise Refused(f"/{path} is larger than {limit} bytes")
        except Refused as refused:
            raise self._refusal("read", path, str(refused)) from None
        return data

    def is_file(self, path: str) -> bool:
        """True for a regular file at `path`, False when nothing is there; TestbedError for
        anything else (a link, a directory, a link on its way)."""
        try:
            return self._check(path, missing_parents_ok=True)
        except Refused as refused:
            raise self._refusal("use", path, str(refused)) from None

    def write_all(self, files: Sequence[GuestFile]) -> None:
        """Write every file (replacing its content, setting its mode), or none: each is checked
        first, and one that would be refused leaves the tree as it was."""
        for file in files:
            try:
                self._check(file.path, missing_parents_ok=file.parents_mode is not None)
            except Refused as refused:
                raise self._refusal("write", file.path, str(refused)) from None
        for file in files:
            try:
                self._write(file)
            except Refused as refused:
                raise self._refusal("write", file.path, str(refused)) from None

    # -- pieces ------------------------------------------------------------------------------

    def _check(self, path: str, missing_parents_ok: bool) -> bool:
        """True for a regular file at `path`, False when it (or, if allowed, a directory on
        its way) is missing; Refused for anything else."""
        with self._parent(path, create=None) as directory:
            if directory is None:
                if missing_parents_ok:
                    return False
                raise Refused(f"the directory of /{path} is absent")
            try:
                found = os.stat(_name(path), dir_fd=directory, follow_symlinks=False)
            except FileNotFoundError:
                return False
            except OSError as error:
                raise _refused(path, error) from None
            _require_regular(path, found.st_mode)
            return True

    def _write(self, file: GuestFile) -> None:
        with self._parent(file.path, create=file.parents_mode) as directory:
            if directory is None:
                raise Refused(f"the directory of /{file.path} is absent")
            with _opened(file.path, directory, write=file.mode) as descriptor:
                try:
                    # The mode first: an existing file keeps its own otherwise, and a key
                    # must not sit in a readable one even for a moment.
                    os.fchmod(descriptor, file.mode)
                    os.ftruncate(descriptor, 0)
                    view = memoryview(file.data)
                    while view:
                        view = view[os.write(descriptor, view) :]
                except OSError as error:
                    raise _refused(file.path, error) from None

    @contextmanager
    def _parent(self, path: str, create: int | None) -> Iterator[int | None]:
        """A descriptor of `path`'s directory, reached without following a link; None when a
        directory on the way is missing and `create` (the mode to make it with) is None."""
        parts = _parts(path)[:-1]
        try:
            descriptor = os.open(self.root, _DIRECTORY)  # the tree's root is ours, not the guest's
        except OSError as error:
            raise Refused(f"its tree: {error.strerror}") from None
        try:
            for index in range(len(parts)):
                following = _step(descriptor, parts[: index + 1], create)
                os.close(descriptor)
                descriptor = -1 if following is None else following
                if following is None:
                    break
            yield None if descriptor < 0 else descriptor
        finally:
            if descriptor >= 0:
                os.close(descriptor)

    def _refusal(self, action: str, path: str, reason: str) -> TestbedError:
        return TestbedError(
            f"machine {self.machine}: refusing to {action} /{path} in its tree ({self.root}):"
            f" {reason}; a machine's files are never followed out of its tree"
        )


@contextmanager
def _opened(path: str, directory: int, write: int | None = None) -> Iterator[int]:
    """`path`'s last component in `directory`, opened for reading, or for writing when `write`
    (the mode to create it with) is given, only if it is a regular file and not through a link.

    It is looked at before it is opened (O_PATH opens nothing: no FIFO blocks, no device acts
    on being opened), then opened again through /proc/self/fd, which is that same inode
    whatever the guest renames meanwhile."""
    name = _name(path)
    try:
        handle = os.open(name, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=directory)
    except FileNotFoundError:
        if write is None:
            raise Refused(f"/{path} is absent") from None
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
        try:  # O_EXCL: a new file, never a link or anything else put there meanwhile
            descriptor = os.open(name, flags, write, dir_fd=directory)
        except OSError as error:
            raise _refused(path, error) from None
    except OSError as error:
        raise _refused(path, error) from None
    else:
        try:
            _require_regular(path, os.fstat(handle).st_mode)
            flags = (os.O_RDONLY if write is None else os.O_WRONLY) | os.O_CLOEXEC
            descriptor = os.open(f"/proc/self/fd/{handle}", flags)
        except OSError as error:
            raise _refused(path, error) from None
        finally:
            os.close(handle)
    try:
        yield descriptor
    finally:
        os.close(descriptor)


def _require_regular(path: str, mode: int) -> None:
    if stat.S_ISLNK(mode):
        raise Refused(f"/{path} is a symbolic link")
    if not stat.S_ISREG(mode):
        raise Refused(f"/{path} is not a regular file")


def _step(directory: int, parts: tuple[str, ...], create: int | None) -> int | None:
    """The directory `parts[-1]` inside `directory`, opened without following a link (made
    with mode `create` when missing); None when missing and `create` is None."""
    here = "/".join(parts)
    try:
        return os.open(parts[-1], _DIRECTORY, dir_fd=directory)
    except FileNotFoundError:
        pass
    except OSError as error:
        raise _refused(here, error) from None
    if create is None:
        return None
    try:
        os.mkdir(parts[-1], create, dir_fd=directory)
        made = os.open(parts[-1], _DIRECTORY, dir_fd=directory)
    except OSError as error:
        raise _refused(here, error) from None
    os.fchmod(made, create)  # mkdir's mode went through the umask
    return made


def _refused(path: str, error: OSError) -> Refused:
    what = _WHAT.get(error.errno or 0, error.strerror or str(error))
    return Refused(f"/{path} is {what}" if error.errno in _WHAT else f"/{path}: {what}")


def _parts(path: str) -> tuple[str, ...]:
    parts = PurePosixPath(path).parts
    if not parts or PurePosixPath(path).is_absolute() or ".." in parts or "." in path.split("/"):
        raise ValueError(f"{path!r}: not a path inside a tree")
    return parts


def _name(path: str) -> str:
    return _parts(path)[-1]
