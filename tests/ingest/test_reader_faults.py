"""Every readable file either imports or explains itself (issue 15).

A byte that is not UTF-8 quarantines its row (file, line, reason) and the rest is imported, in
CSV and JSON Lines, plain and gzip; a file that is not text, or damaged compressed data, ends
the import with exit 2 naming the file; the connectors never raise on such input.
"""

from __future__ import annotations

import gzip
import json
import random
import re
from pathlib import Path

import orjson
import pytest
from typer.testing import CliRunner

from servicepulse.cli.main import app
from servicepulse.ingest.connectors import CONNECTORS, ConnectorOptions
from servicepulse.ingest.readers import UnreadableFile, read_paths
from servicepulse.records import plausible
from servicepulse.records.validate import RecordError, parse_record, unstorable_at
from tests.conftest import FIXTURES

runner = CliRunner()
NOT_UTF8 = "(a file saved as Latin-1 or Windows-1252? save it as UTF-8)"


@pytest.fixture(autouse=True)
def _keep_limits() -> object:
    # the CLI's import sets the process's plausible values from the settings: restore them
    previous = plausible.current()
    yield
    plausible.configure(previous)


@pytest.fixture
def db(tmp_path: Path) -> list[str]:
    return ["--db", f"sqlite:///{tmp_path / 'faults.db'}"]


def _line(number: int, **fields: object) -> bytes:
    return orjson.dumps({"type": "interaction", "id": f"i{number}", "channel": "chat",
                         "created_at": "2026-03-02T09:00:00Z", **fields}) + b"\n"


def _import(db: list[str], *paths: Path) -> tuple[int, str, str]:
    result = runner.invoke(app, [*db, "import", *map(str, paths), "--output", "json"])
    return result.exit_code, result.stdout, result.stderr


def _quarantine(db: list[str]) -> list[dict[str, object]]:
    result = runner.invoke(app, [*db, "quarantine", "list", "--format", "json"])
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def _write(path: Path, content: bytes) -> Path:
    path.write_bytes(gzip.compress(content) if path.suffix == ".gz" else content)
    return path


# -- a byte that is not UTF-8: that row, with file, line and reason ---------------------------


@pytest.mark.parametrize("name", ["records.jsonl", "records.jsonl.gz"])
def test_undecodable_byte_in_json_lines(db: list[str], tmp_path: Path, name: str) -> None:
    latin1 = _line(2, subject="café").replace("é".encode(), b"\xe9")  # Latin-1 é
    path = _write(tmp_path / name, _line(1) + latin1 + _line(3))
    code, out, _ = _import(db, path)
    assert code == 3
    assert json.loads(out) == {"inserted": {"interaction": 2}, "updated": {}, "unchanged": {},
                               "quarantined": 1}
    [row] = _quarantine(db)
    column = latin1.index(b"\xe9") + 1
    assert (row["source"], row["line"], row["field"]) == (str(path), 2, None)
    assert row["reason"] == f"the byte 0xE9 at byte {column} of the line is not valid UTF-8 " \
                            f"{NOT_UTF8}"
    assert "caf\ufffd" in str(row["raw"])  # shown, with the byte replaced


@pytest.mark.parametrize("name", ["interactions.csv", "interactions.csv.gz"])
def test_undecodable_byte_in_csv(db: list[str], tmp_path: Path, name: str) -> None:
    path = _write(tmp_path / name, b"id,channel,created_at,subject\n"
                  b"c1,chat,2026-03-02T09:00:00Z,fine\n"
                  b"c2,chat,2026-03-02T09:00:00Z,caf\xe9\n"
                  b'c3,chat,2026-03-02T09:00:00Z,"multi\nline"\n'
                  b"c4,chat,2026-03-02T09:00:00Z,also \xff\xfe bad\n"
                  b"c5,chat,2026-03-02T09:00:00Z,fine too\n")
    code, out, _ = _import(db, path)
    assert code == 3
    assert json.loads(out)["inserted"] == {"interaction": 3}
    rows = _quarantine(db)
    assert [(r["source"], r["line"], r["kind"], r["field"], r["reason"]) for r in rows] == [
        (str(path), 3, "interaction", "subject",
         f"the byte 0xE9 at character 4 of the cell is not valid UTF-8 {NOT_UTF8}"),
        (str(path), 6, "interaction", "subject",
         f"the byte 0xFF at character 6 of the cell is not valid UTF-8 {NOT_UTF8}"),
    ]
    # nothing else changed: the good rows are exactly as written
    listed = runner.invoke(app, [*db, "import", str(path), "--output", "json"])
    assert json.loads(listed.stdout)["unchanged"] == {"interaction": 3}


def test_undecodable_bytes_in_a_csv_header_explain_the_file(db: list[str],
                                                            tmp_path: Path) -> None:
    path = _write(tmp_path / "interactions.csv",
                  b"id,channel,created_at,sub\xe9ject\nc1,chat,2026-03-02T09:00:00Z,x\n")
    assert _import(db, path)[0] == 3
    [row] = _quarantine(db)
    assert row["line"] == 1 and "header row" in str(row["reason"])


def test_a_nul_byte_in_a_json_line_is_quarantined_and_storable(db: list[str],
                                                              tmp_path: Path) -> None:
    path = _write(tmp_path / "records.jsonl",
                  _line(1) + _line(2, subject="x").replace(b'"x"', b'"a\x00b"') + _line(3))
    assert _import(db, path)[0] == 3
    [row] = _quarantine(db)
    assert row["line"] == 2 and str(row["reason"]).startswith("a NUL byte at byte ")
    assert unstorable_at(str(row["raw"])) is None


# -- files that are not text, or damaged: exit 2 naming the file ------------------------------


def _error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert lines, stderr
    return lines[0]


@pytest.mark.parametrize(("name", "content", "reason"), [
    ("image.jsonl", bytes(random.Random(7).randrange(256) for _ in range(4096)),
     "is not UTF-8 text: "),
    ("nul.csv", b"\x00" * 2000, "is not UTF-8 text: "),
    ("export.csv", "id,channel\n1,chat\n".encode("utf-16"),
     "is UTF-16 or UTF-32 text (it starts with their byte-order mark); save it as UTF-8"),
    ("records.jsonl", gzip.compress(b'{"type": "team"}\n', mtime=0),
     "is gzip-compressed; name it with .gz at the end"),
    ("archive.jsonl", b"PK\x03\x04" + bytes(200), "is a ZIP archive; extract it"),
], ids=["binary", "nul", "utf-16", "gzip-without-gz", "zip"])
def test_a_file_that_is_not_text_exits_2_naming_it(db: list[str], tmp_path: Path, name: str,
                                                   content: bytes, reason: str) -> None:
    good = _write(tmp_path / "good.jsonl", _line(1))
    path = tmp_path / name
    path.write_bytes(content)
    code, out, err = _import(db, good, path)
    assert code == 2 and out == ""
    assert _error_line(err).startswith(f"error: {path}: {reason}")
    assert "Traceback" not in err
    # refused before anything was read: the good file was not imported either
    assert _import(db, good)[1] and json.loads(_import(db, good)[1])["unchanged"] == {
        "interaction": 1}


def test_a_gz_that_is_not_gzip_exits_2_naming_it(db: list[str], tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl.gz"
    path.write_bytes(_line(1))
    code, _, err = _import(db, path)
    assert code == 2
    assert _error_line(err) == (f"error: {path}: is not gzip-compressed although its name ends "
                                "in .gz; rename it without .gz, or compress it with gzip")


@pytest.mark.parametrize("workers", ["0", "1"])
@pytest.mark.parametrize("name", ["records.jsonl.gz", "interactions.csv.gz"])
def test_truncated_gzip_exits_2_naming_the_file(db: list[str], tmp_path: Path, name: str,
                                                workers: str) -> None:
    if name.endswith(".csv.gz"):
        body = b"id,channel,created_at\n" + b"".join(
            f"c{n},chat,2026-03-02T09:00:00Z\n".encode() for n in range(30_000))
    else:
        body = b"".join(_line(n) for n in range(30_000))
    compressed = gzip.compress(body)
    path = tmp_path / name
    path.write_bytes(compressed[:len(compressed) * 2 // 3])  # the end is missing
    after = _write(tmp_path / "after.jsonl", _line(99_999))  # a good file given after it
    result = runner.invoke(app, [*db, "import", str(path), str(after), "--output", "json",
                                 "--batch-size", "1000", "--workers", workers])
    assert result.exit_code == 2
    error = _error_line(result.stderr)
    match = re.fullmatch(rf"error: {re.escape(str(path))}: the compressed data is damaged or "
                         r"truncated after line ([\d,]+) \(the rows before it were read\): .+",
                         error)
    assert match is not None, error
    assert "The rows before the damage were imported; the rest of the file was not." \
        in result.stderr
    assert "Traceback" not in result.output
    # every row before the damage was imported, and the files after it too
    lines = int(match[1].replace(",", ""))
    header = 1 if name.endswith(".csv.gz") else 0
    assert json.loads(result.stdout)["inserted"] == {"interaction": lines - header + 1}
    # importing the repaired file completes the import
    repaired = tmp_path / "repaired" / name
    repaired.parent.mkdir()
    repaired.write_bytes(compressed)
    done = runner.invoke(app, [*db, "import", str(repaired), "--output", "json"])
    assert done.exit_code == 0
    assert json.loads(done.stdout) == {
        "inserted": {"interaction": 30_000 - (lines - header)}, "updated": {},
        "unchanged": {"interaction": lines - header}, "quarantined": 0}


def test_corrupt_gzip_data_exits_2_naming_the_file(db: list[str], tmp_path: Path) -> None:
    compressed = bytearray(gzip.compress(b"".join(_line(n) for n in range(2000))))
    for offset in range(40, 60):  # the deflate stream, past the header
        compressed[offset] ^= 0xFF
    path = tmp_path / "records.jsonl.gz"
    path.write_bytes(bytes(compressed))
    code, _, err = _import(db, path)
    assert code == 2
    assert _error_line(err).startswith(f"error: {path}: the compressed data is damaged or "
                                       "truncated")


def test_the_readers_raise_unreadable_file_for_other_callers(tmp_path: Path) -> None:
    path = tmp_path / "records.jsonl.gz"
    path.write_bytes(gzip.compress(b"".join(_line(n) for n in range(20_000)))[:5000])
    rows = []
    with pytest.raises(UnreadableFile) as caught:
        rows.extend(read_paths([path]))
    assert caught.value.path == str(path) and rows  # the rows before the damage came first
    unreadable: list[UnreadableFile] = []
    assert len(list(read_paths([path], unreadable=unreadable))) == len(rows)
    assert [problem.path for problem in unreadable] == [str(path)]


# -- the original failure: one implausible record no longer breaks the store ------------------


def test_after_a_year_one_record_kpi_and_the_next_import_still_work(db: list[str],
                                                                     tmp_path: Path) -> None:
    first = _write(tmp_path / "first.jsonl",
                   _line(1) + _line(2, created_at="0001-01-01T00:00:00Z") + _line(3))
    code, out, _ = _import(db, first)
    assert code == 3 and json.loads(out)["quarantined"] == 1
    assert _quarantine(db)[0]["field"] == "created_at"
    kpi = runner.invoke(app, [*db, "kpi", "--format", "json"])
    assert kpi.exit_code == 0, kpi.output
    assert "Traceback" not in kpi.output
    second = _write(tmp_path / "second.jsonl", _line(4) + _line(5))
    code, out, _ = _import(db, second)
    assert code == 0 and json.loads(out)["inserted"] == {"interaction": 2}
    assert runner.invoke(app, [*db, "kpi", "--format", "json"]).exit_code == 0


# -- connectors never raise on undecodable bytes or damaged files ------------------------------

CONNECTOR_FILES = [
    ("zendesk", "zendesk", None),
    ("freshdesk", "freshdesk/tickets.json", None),
    ("chatwoot", "chatwoot/conversations.json", None),
    ("asterisk", "asterisk/queue_log", "asterisk/asterisk.toml"),
    ("asterisk-cdr", "asterisk/Master.csv", "asterisk/asterisk.toml"),
    ("social", "social/facebook_posts.csv", None),
    ("csv", "csv/helpdesk_export.csv", "csv/helpdesk_mapping.toml"),
]


def _source_file(relative: str) -> Path:
    path = FIXTURES / "connectors" / relative
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.suffix == ".json")[0]
    return path


def _variants(data: bytes) -> dict[str, bytes]:
    middle = len(data) // 2
    while middle < len(data) and not chr(data[middle]).isalpha():
        middle += 1
    compressed = gzip.compress(data)
    return {
        "bad byte": data[:middle] + b"\xe9" + data[middle:],
        "NUL": data[:middle] + b"\x00" + data[middle:],
        "bad bytes everywhere": data.replace(b"e", b"\xe9"),
        "byte-order mark": b"\xef\xbb\xbf" + data,
        "binary": bytes(random.Random(3).randrange(256) for _ in range(3000)),
        "truncated gzip": compressed[:max(20, len(compressed) * 2 // 3)],
        "not gzip": data,
    }


@pytest.mark.parametrize(("connector", "relative", "mapping"), CONNECTOR_FILES)
def test_connectors_survive_undecodable_and_damaged_input(tmp_path: Path, connector: str,
                                                          relative: str,
                                                          mapping: str | None) -> None:
    source = _source_file(relative)
    options = ConnectorOptions(mapping=FIXTURES / "connectors" / mapping if mapping else None)
    for variant, content in _variants(source.read_bytes()).items():
        name = source.name + (".gz" if "gzip" in variant else "")
        path = tmp_path / variant.replace(" ", "-") / name
        path.parent.mkdir()
        path.write_bytes(content)
        rows = list(CONNECTORS[connector].read([path], options))  # never raises
        for row in rows:
            # what the quarantine would keep is storable (no NUL, no lone surrogate)
            assert unstorable_at(row.raw) is None, (variant, row)
            if row.error is not None:
                assert row.error.reason and unstorable_at(row.error.reason) is None
                continue
            try:
                parse_record(row.data)
            except RecordError as error:  # only ever a reason, naming what is wrong
                assert error.reason, (variant, row)
        if "gzip" in variant:
            assert any(row.error is not None and row.line is None and (
                "compressed" in row.error.reason or "gzip" in row.error.reason)
                for row in rows), (variant, rows)
