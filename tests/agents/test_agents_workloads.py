"""The one-byte and SPECweb99-like workloads: sizes, the class mix and Zipf directory popularity
over a large draw, session lengths, determinism from the seed, and the CLI."""

from __future__ import annotations

import json
import math
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from agents import workloads as w
from tests.support.agents import run_module

DRAWS = 200_000


def within(observed: int, p: float, n: int, sigmas: float = 5.0) -> bool:
    """Is a count of `observed` in `n` draws within `sigmas` binomial deviations of p?"""
    return abs(observed / n - p) <= sigmas * math.sqrt(p * (1 - p) / n)


def test_file_sizes_follow_specweb99() -> None:
    assert [w.file_size(0, f) for f in range(9)] == [102, 205, 307, 410, 512, 614, 717, 819, 922]
    assert [w.file_size(1, f) for f in range(9)] == [1024 * k for k in range(1, 10)]
    assert [w.file_size(2, f) for f in range(9)] == [10240 * k for k in range(1, 10)]
    assert [w.file_size(3, f) for f in range(9)] == [102400 * k for k in range(1, 10)]
    assert w.directory_bytes() == 5_119_488  # "about 5 MB per directory"
    assert w.file_name(7, 2, 4) == "dir00007/class2_4"
    with pytest.raises(ValueError):
        w.file_size(4, 0)
    with pytest.raises(ValueError):
        w.file_size(0, 9)


def test_distribution_constants() -> None:
    assert w.CLASS_SHARES == (0.35, 0.50, 0.14, 0.01)
    assert sum(w.FILE_SHARES) == pytest.approx(1.0)
    assert max(range(9), key=lambda f: w.FILE_SHARES[f]) == 4  # peaked at the fifth file
    assert sum(p for _, p in w.SESSION_LENGTHS) == pytest.approx(1.0)
    assert w.mean_session_length() == pytest.approx(7.3)
    assert 13_000 < w.mean_reply_bytes() < 15_500  # "mean reply about 14 KB"


def test_class_and_file_mix_over_a_large_draw() -> None:
    rng = w.rng_for(11, "test")
    cdf = w.cumulative(w.zipf_weights(50))
    draws = [w.draw_request(rng, cdf) for _ in range(DRAWS)]
    classes = Counter(r.cls for r in draws)
    for c, share in enumerate(w.CLASS_SHARES):
        assert within(classes[c], share, DRAWS), (c, classes[c] / DRAWS, share)
    files = Counter(r.index for r in draws)
    for f, share in enumerate(w.FILE_SHARES):
        assert within(files[f], share, DRAWS), (f, files[f] / DRAWS, share)
    mean = sum(w.file_size(r.cls, r.index) for r in draws) / DRAWS
    assert mean == pytest.approx(w.mean_reply_bytes(), rel=0.03)


def test_directory_popularity_is_zipf_alpha_1() -> None:
    dirs = 100
    rng = w.rng_for(12, "test")
    cdf = w.cumulative(w.zipf_weights(dirs))
    counts = Counter(w.draw_request(rng, cdf).directory for _ in range(DRAWS))
    assert set(counts) <= set(range(dirs))
    harmonic = sum(1 / (k + 1) for k in range(dirs))
    for k in range(dirs):
        assert within(counts[k], 1 / (k + 1) / harmonic, DRAWS), k
    # Zipf with alpha = 1: directory 0 twice as popular as directory 1, ten times directory 9;
    # and the slope of log(count) against log(rank) is -1.
    assert counts[0] / counts[1] == pytest.approx(2, rel=0.05)
    assert counts[0] / counts[9] == pytest.approx(10, rel=0.1)
    xs = [math.log(k + 1) for k in range(20)]
    ys = [math.log(counts[k]) for k in range(20)]
    mx, my = sum(xs) / 20, sum(ys) / 20
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )
    assert slope == pytest.approx(-1.0, abs=0.05)


def test_session_lengths() -> None:
    rng = w.rng_for(13, "test")
    lengths = Counter(w.draw_session_length(rng) for _ in range(DRAWS))
    assert set(lengths) == {1, *range(5, 16)}
    assert within(lengths[1], 0.30, DRAWS)
    for n in range(5, 16):
        assert within(lengths[n], 0.70 / 11, DRAWS), n
    mean = sum(n * c for n, c in lengths.items()) / DRAWS
    assert mean == pytest.approx(7.3, abs=0.05)


def test_sessions_are_deterministic_from_the_seed() -> None:
    a = w.generate_sessions(seed=5, client=0, directories=20, sessions=300)
    assert a == w.generate_sessions(seed=5, client=0, directories=20, sessions=300)
    assert a != w.generate_sessions(seed=6, client=0, directories=20, sessions=300)
    assert a != w.generate_sessions(seed=5, client=1, directories=20, sessions=300)
    # Asking for more sessions extends the list; it does not reshuffle it.
    assert w.generate_sessions(seed=5, client=0, directories=20, sessions=100) == a[:100]
    assert all(0 <= r.directory < 20 for s in a for r in s)


def test_session_file_format() -> None:
    sessions = w.generate_sessions(seed=1, client=0, directories=3, sessions=4)
    text = w.session_file_text(sessions, ["hello"])
    blocks = text.split("\n\n")
    assert text.startswith("# hello\n")
    assert len(blocks) == 4
    assert [len([ln for ln in b.splitlines() if ln.startswith("/")]) for b in blocks] == [
        len(s) for s in sessions
    ]
    assert all(ln.startswith(("#", "/dir")) for ln in text.splitlines() if ln)


def fileset(docroot: Path, seed: int, directories: int) -> subprocess.CompletedProcess[str]:
    args = ["--docroot", str(docroot), "--seed", str(seed), "--directories", str(directories)]
    return run_module("agents.workloads", ["fileset", *args], timeout=60)


def test_fileset_cli_writes_files_and_stats(tmp_path: Path) -> None:
    docroot = tmp_path / "docroot"
    out = fileset(docroot, 3, 2)
    assert out.returncode == 0, out.stderr
    stats = json.loads(out.stdout)
    assert stats["files"] == 73 and stats["fileset_files"] == 72
    assert stats["bytes_per_directory"] == 5_119_488
    assert stats["fileset_bytes"] == 2 * 5_119_488
    assert [c["files"] for c in stats["classes"]] == [18, 18, 18, 18]
    assert stats["one_byte_uri"] == "/one-byte"
    assert stats["written"] == 73
    assert (docroot / "one-byte").read_bytes() == b"x"
    for c in range(4):
        for f in range(9):
            path = docroot / w.file_name(1, c, f)
            assert path.stat().st_size == w.file_size(c, f)
    head = (docroot / "dir00001/class2_3").read_bytes()[:40]
    assert head.startswith(b"dir00001/class2_3 seed=3\n")
    # Again: nothing to rewrite. Another seed: other contents, every file rewritten.
    again = json.loads(fileset(docroot, 3, 2).stdout)
    assert (again["written"], again["unchanged"]) == (0, 73)
    before = (docroot / "dir00000/class1_1").read_bytes()
    other = json.loads(fileset(docroot, 4, 2).stdout)
    assert other["written"] == 72  # the one-byte file does not depend on the seed
    assert (docroot / "dir00000/class1_1").read_bytes() != before


def test_sessions_cli_is_the_same_on_both_pythons(tmp_path: Path) -> None:
    """Lab hosts run Debian's /usr/bin/python3; the orchestrator may use the venv's. The same
    seed must give the same file on both."""
    args = ["sessions", "--seed", "9", "--client", "1", "--clients", "3", "--directories", "40"]
    outputs = []
    for i, python in enumerate(("/usr/bin/python3", None)):
        out_file = tmp_path / f"s{i}.txt"
        out = run_module(
            "agents.workloads",
            [*args, "--sessions", "500", "--output", str(out_file)],
            timeout=60,
            python=python,
        )
        assert out.returncode == 0, out.stderr
        stats = json.loads(out.stdout)
        assert stats["sessions"] == 500
        assert stats["requests"] == sum(
            1 for ln in out_file.read_text().splitlines() if ln.startswith("/")
        )
        outputs.append(out_file.read_text())
    assert outputs[0] == outputs[1]
    expected = w.generate_sessions(seed=9, client=1, directories=40, sessions=500)
    assert outputs[0].endswith(w.session_file_text(expected))


SESSIONS = ["sessions", "--seed", "1", "--clients", "3", "--directories", "2", "--output", "/tmp/x"]
FILESET = ["fileset", "--docroot", "/tmp/x"]


@pytest.mark.parametrize(
    ("args", "names"),
    [
        ([*FILESET, "--seed", "-1", "--directories", "2"], "--seed"),
        ([*FILESET, "--seed", "1", "--directories", "0"], "--directories"),
        ([*FILESET, "--seed", "x", "--directories", "2"], "--seed"),
        ([*SESSIONS, "--client", "3", "--sessions", "5"], "--client"),
        ([*SESSIONS, "--client", "0", "--sessions", "many"], "--sessions"),
    ],
)
def test_bad_arguments_exit_2_with_one_line(args: list[str], names: str) -> None:
    out = run_module("agents.workloads", args, timeout=30)
    assert out.returncode == 2
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1, out.stderr
    assert names in lines[0]


def test_unwritable_docroot_fails_without_traceback(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    out = fileset(blocker / "docroot", 1, 1)
    assert out.returncode == 1
    assert "Traceback" not in out.stderr
    assert str(blocker) in out.stderr
