"""Stores that are not ours, corrupted, of another schema, or on a read-only mount, and sweep ids
that try to be paths: each is one line and exit 2, and a read-only command (export, status,
report, compare) never changes a file it did not create."""

from __future__ import annotations

import gc
import hashlib
import os
import sqlite3
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from orchestrator.cli import main
from orchestrator.errors import TestbedError
from orchestrator.results.store import Store
from tests.support.labfiles import write_lab
from tests.support.report_stores import P, sweep_with


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def one_error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert lines[0].startswith("error: ") and "Traceback" not in err
    return lines[0]


def snapshot(directory: Path) -> dict[str, tuple[str, float, int]]:
    """Every file under `directory` but reports/: content hash, mtime, mode."""
    files = {}
    for path in sorted(directory.rglob("*")):
        if path.is_file() and "reports" not in path.relative_to(directory).parts:
            info = path.stat()
            digest = hashlib.sha256(path.read_bytes()).hexdigest()
            files[str(path.relative_to(directory))] = (digest, info.st_mtime, info.st_mode)
    return files


def good_store(directory: Path) -> tuple[str, str]:
    store = Store.open(directory)
    base = sweep_with(store, [P("poll", 1000, 990), P("select", 1000, 980)], now=1_800_000_000)
    new = sweep_with(store, [P("poll", 1000, 995), P("select", 1000, 985)], now=1_800_000_100)
    store.close()
    return base, new


def foreign(path: Path, *statements: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as db:
        for statement in statements:
            db.execute(statement)
    db.close()
    return path


META = "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (["CREATE TABLE people (name TEXT)"], "not a testbed results store (its tables: people)"),
        (["CREATE TABLE sweeps (id TEXT, colour TEXT)"], "not a testbed results store"),
        (
            [META, "INSERT INTO meta VALUES ('schema_version', '1')", "CREATE TABLE sweeps (x)"],
            "its sweeps table is not a testbed one",
        ),
        (
            [META, "INSERT INTO meta VALUES ('schema_version', 'one')", "CREATE TABLE sweeps (x)"],
            "schema_version 'one' is not a number",
        ),
        (
            [META, "INSERT INTO meta VALUES ('schema_version', '0')", "CREATE TABLE sweeps (x)"],
            "unknown schema version 0",
        ),
        (
            [META, "INSERT INTO meta VALUES ('schema_version', '7')", "CREATE TABLE sweeps (x)"],
            "written by a newer testbed (schema 7 > 1)",
        ),
    ],
)
def test_a_store_that_is_not_ours_is_refused_and_left_untouched(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], statements: list[str], expected: str
) -> None:
    path = foreign(tmp_path / "testbed.sqlite", *statements)
    before = snapshot(tmp_path)
    for argv in (
        ("export", str(tmp_path)),
        ("report", str(tmp_path)),
        ("compare", str(tmp_path), "a", "b"),
        ("baseline", "show", str(tmp_path)),
        ("baseline", "set", str(tmp_path), "a"),  # the one that writes: refused all the same
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert expected in one_error_line(err)
    with pytest.raises(TestbedError) as refused:
        Store.open(tmp_path)  # as `up` and `nightly` open it: no table added, no WAL switch
    assert refused.value.exit_code == 2
    assert snapshot(tmp_path) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]


@pytest.mark.parametrize("damage", ["garbage", "truncated", "empty"])
def test_a_corrupted_store_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], damage: str
) -> None:
    path = tmp_path / "testbed.sqlite"
    if damage == "garbage":
        path.write_bytes(os.urandom(8192))
    else:
        good_store(tmp_path)
        data = path.read_bytes()
        path.write_bytes(data[:100] if damage == "truncated" else b"")
    before = snapshot(tmp_path)
    for argv in (("export", str(tmp_path)), ("report", str(tmp_path))):
        code, _, err = run(capsys, *argv)
        assert code == 2
        assert "testbed.sqlite" in one_error_line(err)
    assert snapshot(tmp_path) == before


def test_read_only_commands_change_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], state_dir: Path
) -> None:
    results = tmp_path / "results"
    base, new = good_store(results)
    lab = write_lab(
        tmp_path,
        lab_changes={"emulate": False, "results": {"directory": str(results)}},
        second_octet=19,
        third_base=212,
    )
    before = snapshot(results)
    listing = sorted(p.name for p in results.iterdir())
    for argv in (
        ("export", str(results), "--format", "json"),
        ("export", str(results), "--sweep", base),
        ("status", str(lab)),
        ("report", str(results), "--sweep", base),
        ("compare", str(results), base, new),
        ("baseline", "show", str(results)),
    ):
        code, _, err = run(capsys, *argv)
        assert code in (0, 1), (argv, err)
    assert snapshot(results) == before  # no -wal, no -shm, no schema_version written
    assert sorted(p.name for p in results.iterdir()) == sorted([*listing, "reports"])


@pytest.fixture
def read_only_mount(tmp_path: Path) -> Iterator[Path]:
    """A tmpfs holding a valid store, remounted read-only; unmounted whatever happens."""
    mount = tmp_path / "ro"
    mount.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=32m", "none", str(mount)])
    if done.returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    try:
        good_store(mount)
        subprocess.run(["mount", "-o", "remount,ro", str(mount)], check=True)
        yield mount
    finally:
        gc.collect()  # the CLI's stores are closed when collected: the mount is then not busy
        if subprocess.run(["umount", str(mount)], check=False).returncode != 0:
            subprocess.run(["umount", "--lazy", str(mount)], check=False)
        assert not os.path.ismount(mount)


def test_a_store_on_a_read_only_mount_is_exported_reported_and_compared(
    read_only_mount: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(OSError):
        (read_only_mount / "probe").write_text("x")  # the mount really is read-only
    store = Store.open(read_only_mount, readonly=True)
    sweeps = store.sweeps()
    store.close()
    base, new = sweeps[0].id, sweeps[1].id
    code, out, err = run(capsys, "export", str(read_only_mount), "--format", "csv")
    assert code == 0, err
    assert len(out.strip().splitlines()) == 5  # header and four points
    elsewhere = tmp_path / "reports-elsewhere"
    code, out, err = run(capsys, "report", str(read_only_mount), "--output", str(elsewhere))
    assert code == 0, err
    assert (elsewhere / new / "index.html").is_file()
    code, out, err = run(capsys, "report", str(read_only_mount))  # where it cannot write
    assert code == 2
    assert "--output DIR" in one_error_line(err)
    code, out, err = run(capsys, "compare", str(read_only_mount), base, new)
    assert code in (0, 1)
    assert "comparison page was not written" in err


def test_export_into_a_missing_directory_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    good_store(tmp_path)
    target = tmp_path / "missing" / "points.csv"
    code, _, err = run(capsys, "export", str(tmp_path), "--output", str(target))
    assert code == 2
    assert one_error_line(err) == f"error: --output: {target}: No such file or directory"


@pytest.mark.parametrize("sweep", ["..", ".", "../results", "/etc", "a/b", ".hidden", "x\ny"])
def test_a_sweep_id_is_a_name_never_a_path(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], sweep: str
) -> None:
    results = tmp_path / "results"
    base, _ = good_store(results)
    (tmp_path / "precious").write_text("keep me")
    before = snapshot(tmp_path)
    for argv in (
        ("report", str(results), "--sweep", sweep),
        ("export", str(results), "--sweep", sweep),
        ("compare", str(results), sweep, base),
        ("compare", str(results), base, sweep),
        ("baseline", "set", str(results), sweep),
    ):
        code, _, err = run(capsys, *argv)
        assert code == 2, argv
        assert "not a sweep id" in one_error_line(err)
    assert snapshot(tmp_path) == before


def test_a_sweep_id_stored_as_a_path_is_refused_by_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A store someone crafted: its latest sweep is named `..`. `report` (the latest by
    default) must not write, or replace, `reports/..` -- the results directory itself."""
    results = tmp_path / "results"
    good_store(results)
    with sqlite3.connect(results / "testbed.sqlite") as db:
        db.execute(
            "UPDATE sweeps SET id = '..' WHERE started_at = (SELECT MAX(started_at) FROM sweeps)"
        )
    db.close()
    before = snapshot(tmp_path)
    code, _, err = run(capsys, "report", str(results))
    assert code == 2
    assert "not a sweep id" in one_error_line(err)
    assert snapshot(tmp_path) == before
