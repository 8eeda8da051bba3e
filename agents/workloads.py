"""The paper's two workloads, generated deterministically from a seed.

one-byte
    One file of one byte, ``/one-byte``, requested once per connection.

specweb99
    The static part of SPECweb99 as the paper's authors (and Brecht's userver tools) used it.

    File set, written by ``fileset``: directories ``dirNNNNN`` (five digits, from 00000) of 36 files
    ``classC_F`` -- four classes C of nine files F each. File F of class C has
    ``(F + 1) * 1024 * 10**C / 10`` bytes rounded to the nearest byte: class 0 is 102, 205, ...
    922 B (steps of 102.4 B), class 1 is 1-9 KiB, class 2 10-90 KiB, class 3 100-900 KiB;
    5,119,488 B (about 4.9 MiB) per directory. File contents are a pattern derived from the
    seed, preceded by a header line naming the file and the seed, so a wrong file served shows.

    Sessions, written by ``sessions`` as an httperf ``--wsesslog`` file (one URI per line, a blank
    line between sessions, no think time, so load is open-loop in the session arrival rate):

    * class of each request: 35 / 50 / 14 / 1 % (``CLASS_SHARES``);
    * file within the class: SPECweb99's per-class table, peaked at the fifth file
      (``FILE_SHARES``: 3.9, 5.9, 8.8, 17.7, 35.3, 11.8, 7.1, 5.0, 4.4 %, normalised);
    * directory: Zipf with alpha = 1 over the directories, directory 0 the most popular;
    * requests per session (one keep-alive connection each): as SPECweb99, 30 % of connections
      carry a single request and 70 % carry 5 to 15 requests, uniformly -- 7.3 requests per
      session on average (``SESSION_LENGTHS``).

    Expected mean reply body: about 14.7 KB (``mean_reply_bytes()``).

    httperf 0.9.0 refuses a session file with more than 1,000 sessions; ``agents.load`` gives
    each httperf process at most that many (cycled), so files may hold more.

Everything random comes from ``random.Random`` seeded with a SHA-256 digest of the seed (and
client index), drawn only through ``Random.random()``, so the output is the same on every Python.

CLI (prints one JSON object of statistics on stdout)::

    python3 -m agents.workloads fileset --docroot DIR --seed S --directories N
    python3 -m agents.workloads sessions --seed S --client I --clients N --directories D \\
        --sessions K --output FILE
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import json
import os
import random
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from agents._cli import ArgumentParser, nonnegative_int, positive_int

__all__ = [
    "CLASSES",
    "CLASS_SHARES",
    "FILES_PER_CLASS",
    "FILE_SHARES",
    "MAX_SESSIONS_PER_HTTPERF",
    "ONE_BYTE_URI",
    "SESSION_LENGTHS",
    "Request",
    "cumulative",
    "directory_bytes",
    "draw_request",
    "draw_session_length",
    "file_name",
    "file_size",
    "generate_sessions",
    "main",
    "mean_reply_bytes",
    "mean_session_length",
    "rng_for",
    "session_file_text",
    "write_fileset",
    "zipf_weights",
]

ONE_BYTE_URI = "/one-byte"
CLASSES = 4
FILES_PER_CLASS = 9
CLASS_SHARES: tuple[float, ...] = (0.35, 0.50, 0.14, 0.01)
# SPECweb99's access frequencies of the nine files within a class (as in Brecht's
# genspec99sesslogs.c); they sum to 0.999, so draws use them normalised.
_FILE_TABLE = (0.039, 0.059, 0.088, 0.177, 0.353, 0.118, 0.071, 0.050, 0.044)
FILE_SHARES: tuple[float, ...] = tuple(x / sum(_FILE_TABLE) for x in _FILE_TABLE)
# (requests in the session, probability): 30 % single-request, 70 % uniform over 5..15.
SESSION_LENGTHS: tuple[tuple[int, float], ...] = (
    (1, 0.30),
    *((n, 0.70 / 11) for n in range(5, 16)),
)
MAX_SESSIONS_PER_HTTPERF = 1000  # MAX_SESSION_TEMPLATES in httperf's wsesslog.c


# ---------------------------------------------------------------------------------------------
# Pure functions: sizes, names, distributions, draws
# ---------------------------------------------------------------------------------------------


def file_size(cls: int, index: int) -> int:
    """Bytes of file ``index`` (0-8) of class ``cls`` (0-3): (index+1) * 1024 * 10**cls / 10,
    rounded to the nearest byte."""
    if not (0 <= cls < CLASSES and 0 <= index < FILES_PER_CLASS):
        raise ValueError(f"no file {index} in class {cls}")
    return ((index + 1) * 1024 * int(10**cls) + 5) // 10


def file_name(directory: int, cls: int, index: int) -> str:
    """Path of a file relative to the docroot, as SPECweb99 names them: dirNNNNN/classC_F."""
    return f"dir{directory:05d}/class{cls}_{index}"


def directory_bytes() -> int:
    """Bytes of one directory of the file set (5,119,488)."""
    return sum(file_size(c, f) for c in range(CLASSES) for f in range(FILES_PER_CLASS))


def mean_reply_bytes() -> float:
    """Expected body size of a request drawn from the class and file distributions."""
    return sum(
        CLASS_SHARES[c] * FILE_SHARES[f] * file_size(c, f)
        for c in range(CLASSES)
        for f in range(FILES_PER_CLASS)
    )


def mean_session_length() -> float:
    """Expected requests per session (7.3)."""
    return sum(n * p for n, p in SESSION_LENGTHS)


def zipf_weights(n: int, alpha: float = 1.0) -> list[float]:
    """Probabilities of ranks 0..n-1 under Zipf: p(k) proportional to 1 / (k + 1) ** alpha."""
    if n < 1:
        raise ValueError("need at least one rank")
    raw = [1.0 / (k + 1) ** alpha for k in range(n)]
    total = sum(raw)
    return [x / total for x in raw]


def cumulative(weights: Sequence[float]) -> list[float]:
    """Cumulative distribution of ``weights`` (normalised so the last entry is exactly 1)."""
    total = sum(weights)
    out, running = [], 0.0
    for w in weights:
        running += w
        out.append(running / total)
    out[-1] = 1.0
    return out


def _pick(rng: random.Random, cdf: Sequence[float]) -> int:
    return bisect.bisect_right(cdf, rng.random())


_CLASS_CDF = cumulative(CLASS_SHARES)
_FILE_CDF = cumulative(FILE_SHARES)
_SESSION_CDF = cumulative([p for _, p in SESSION_LENGTHS])


@dataclass(frozen=True)
class Request:
    """One drawn request of the specweb99 workload."""

    directory: int
    cls: int
    index: int

    @property
    def uri(self) -> str:
        return "/" + file_name(self.directory, self.cls, self.index)


def draw_request(rng: random.Random, directory_cdf: Sequence[float]) -> Request:
    """Draw a directory (Zipf, via ``cumulative(zipf_weights(n))``), a class and a file."""
    directory = min(_pick(rng, directory_cdf), len(directory_cdf) - 1)
    cls = min(_pick(rng, _CLASS_CDF), CLASSES - 1)
    index = min(_pick(rng, _FILE_CDF), FILES_PER_CLASS - 1)
    return Request(directory, cls, index)


def draw_session_length(rng: random.Random) -> int:
    """Requests in one session: 1 (30 %) or 5..15 (70 %, uniform)."""
    return SESSION_LENGTHS[min(_pick(rng, _SESSION_CDF), len(SESSION_LENGTHS) - 1)][0]


def rng_for(seed: int, *stream: object) -> random.Random:
    """A generator for one named stream of a seed (e.g. ``rng_for(7, "sessions", 2)``),
    independent of the others and the same on every Python version."""
    key = "/".join(str(x) for x in (seed, *stream)).encode()
    return random.Random(int.from_bytes(hashlib.sha256(key).digest()[:8], "big"))


def generate_sessions(
    seed: int, client: int, directories: int, sessions: int
) -> list[list[Request]]:
    """The sessions of one client: the same for the same (seed, client, directories, sessions),
    and the first k sessions do not depend on how many are asked for."""
    rng = rng_for(seed, "sessions", client)
    cdf = cumulative(zipf_weights(directories))
    out = []
    for _ in range(sessions):
        length = draw_session_length(rng)
        out.append([draw_request(rng, cdf) for _ in range(length)])
    return out


def session_file_text(sessions: Sequence[Sequence[Request]], header: Sequence[str] = ()) -> str:
    """httperf --wsesslog text: comment header, one URI per line, a blank line between sessions."""
    lines = [f"# {h}" for h in header]
    for i, session in enumerate(sessions):
        if i:
            lines.append("")
        lines.extend(r.uri for r in session)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------------------------
# File set on disk
# ---------------------------------------------------------------------------------------------


def _pattern(seed: int) -> bytes:
    return rng_for(seed, "content").randbytes(1 << 16)


def file_content(relpath: str, size: int, seed: int, pattern: bytes | None = None) -> bytes:
    """Bytes of one file: a header line naming it and the seed, then the seed's pattern."""
    pattern = pattern if pattern is not None else _pattern(seed)
    head = f"{relpath} seed={seed}\n".encode()[:size]
    body_len = size - len(head)
    reps = body_len // len(pattern) + 1
    return head + (pattern * reps)[:body_len]


def _plan(directories: int) -> Iterator[tuple[str, int]]:
    yield ONE_BYTE_URI.lstrip("/"), 1
    for d in range(directories):
        for c in range(CLASSES):
            for f in range(FILES_PER_CLASS):
                yield file_name(d, c, f), file_size(c, f)


def write_fileset(docroot: Path, seed: int, directories: int) -> dict[str, object]:
    """Write the one-byte file and the file set under ``docroot``; files already there with the
    right size and header are kept. Returns the statistics the CLI prints."""
    pattern = _pattern(seed)
    written = kept = 0
    class_files = [0] * CLASSES
    class_bytes = [0] * CLASSES
    for relpath, size in _plan(directories):
        path = docroot / relpath
        if relpath != ONE_BYTE_URI.lstrip("/"):
            cls = int(relpath.split("/class")[1][0])
            class_files[cls] += 1
            class_bytes[cls] += size
        content = b"x" if size == 1 else file_content(relpath, size, seed, pattern)
        if path.is_file() and path.stat().st_size == size:
            with path.open("rb") as fh:
                if fh.read(64) == content[:64]:
                    kept += 1
                    continue
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(content)
        os.replace(tmp, path)
        written += 1
    return {
        "seed": seed,
        "docroot": str(docroot),
        "directories": directories,
        "files": sum(class_files) + 1,
        "bytes": sum(class_bytes) + 1,
        "fileset_files": sum(class_files),
        "fileset_bytes": sum(class_bytes),
        "bytes_per_directory": directory_bytes(),
        "classes": [
            {
                "class": c,
                "files": class_files[c],
                "bytes": class_bytes[c],
                "request_share": CLASS_SHARES[c],
            }
            for c in range(CLASSES)
        ],
        "one_byte_uri": ONE_BYTE_URI,
        "mean_reply_bytes": round(mean_reply_bytes(), 1),
        "written": written,
        "unchanged": kept,
    }


# ---------------------------------------------------------------------------------------------
# CLI
# ---------------------------------------------------------------------------------------------


def _cmd_fileset(args: argparse.Namespace) -> dict[str, object]:
    docroot = Path(args.docroot)
    return write_fileset(docroot, args.seed, args.directories)


def _cmd_sessions(args: argparse.Namespace) -> dict[str, object]:
    sessions = generate_sessions(args.seed, args.client, args.directories, args.sessions)
    requests = sum(len(s) for s in sessions)
    header = [
        "testbed specweb99 sessions (agents.workloads)",
        f"seed={args.seed} client={args.client} clients={args.clients} "
        f"directories={args.directories} sessions={args.sessions} requests={requests}",
    ]
    out = Path(args.output)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(session_file_text(sessions, header))
    os.replace(tmp, out)
    class_counts = [0] * CLASSES
    for s in sessions:
        for r in s:
            class_counts[r.cls] += 1
    return {
        "seed": args.seed,
        "client": args.client,
        "clients": args.clients,
        "directories": args.directories,
        "sessions": args.sessions,
        "requests": requests,
        "mean_requests_per_session": round(requests / max(args.sessions, 1), 3),
        "class_requests": class_counts,
        "output": str(out),
    }


def _parser() -> ArgumentParser:
    parser = ArgumentParser(prog="python3 -m agents.workloads", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    fs = sub.add_parser("fileset", help="write the one-byte file and the SPECweb99 file set")
    fs.add_argument("--docroot", required=True)
    fs.add_argument("--seed", required=True, type=nonnegative_int)
    fs.add_argument("--directories", required=True, type=positive_int)
    fs.set_defaults(run=_cmd_fileset)
    ss = sub.add_parser("sessions", help="write one client's httperf --wsesslog session file")
    ss.add_argument("--seed", required=True, type=nonnegative_int)
    ss.add_argument("--client", required=True, type=nonnegative_int)
    ss.add_argument("--clients", required=True, type=positive_int)
    ss.add_argument("--directories", required=True, type=positive_int)
    ss.add_argument("--sessions", required=True, type=positive_int)
    ss.add_argument("--output", required=True)
    ss.set_defaults(run=_cmd_sessions)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "sessions" and args.client >= args.clients:
        parser.error(f"argument --client: {args.client} is not below --clients {args.clients}")
    try:
        stats = args.run(args)
    except OSError as exc:
        print(f"agents.workloads: {exc}", file=sys.stderr)
        return 1
    print(json.dumps(stats, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
