"""Connector throughput: source rows converted per second, against parsing alone.

For each format a synthetic export is written to a scratch folder; the connector reads it
fully (conversion only, no store), and the baseline reads the same file with the bare parser
(lines split on `|`, `orjson.loads`, `csv.reader`), so the ratio is the price of conversion.
`run_connectors_bench` writes the `connectors` section of BENCHMARKS.md.
"""

from __future__ import annotations

import csv
import tempfile
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from servicepulse.bench.report import machine_line, median, time_runs, write_section
from servicepulse.ingest.connectors.asterisk import QUEUE_LOG
from servicepulse.ingest.connectors.base import ConnectorOptions
from servicepulse.ingest.connectors.freshdesk import FRESHDESK
from servicepulse.ingest.connectors.tabular import CSV, parse_cell_time
from servicepulse.ingest.connectors.zendesk import ZENDESK

START = datetime(2024, 3, 4, tzinfo=UTC)


def _iso(seconds: float) -> str:
    return (START + timedelta(seconds=seconds)).isoformat().replace("+00:00", "Z")


def write_queue_log(path: Path, calls: int) -> int:
    lines = [f"{1709510400}|NONE|support|SIP/{1000 + a}|ADDMEMBER|" for a in range(50)]
    for n in range(calls):
        at = 1709510400 + n * 3
        callid = f"{at}.{n}"
        agent = f"SIP/{1000 + n % 50}"
        if n % 10 == 0:
            lines += [f"{at}|{callid}|support|NONE|ENTERQUEUE||555{n:07d}|1",
                      f"{at + 30}|{callid}|support|NONE|ABANDON|1|1|30"]
        else:
            lines += [f"{at}|{callid}|support|NONE|ENTERQUEUE||555{n:07d}|1",
                      f"{at + 12}|{callid}|support|{agent}|CONNECT|12|{callid}b|3",
                      f"{at + 100}|{callid}|support|{agent}|COMPLETECALLER|12|88|1"]
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def write_zendesk(folder: Path, tickets: int) -> tuple[list[Path], int]:
    rows = []
    metrics = []
    for n in range(tickets):
        created = n * 60.0
        rows.append({"id": n, "created_at": _iso(created), "updated_at": _iso(created + 7200),
                     "status": "solved", "type": "question", "priority": "normal",
                     "subject": f"Ticket {n}", "requester_id": 100000 + n % 5000,
                     "submitter_id": 100000 + n % 5000, "assignee_id": 500 + n % 40,
                     "group_id": 30 + n % 4, "tags": ["a", "b"],
                     "via": {"channel": "email", "source": {"from": {}, "to": {}}}})
        metrics.append({"id": n, "ticket_id": n, "created_at": _iso(created),
                        "solved_at": _iso(created + 7200), "reopens": 0,
                        "assignee_stations": 1, "group_stations": 1, "replies": 2,
                        "reply_time_in_minutes": {"calendar": 30, "business": 30},
                        "full_resolution_time_in_minutes": {"calendar": 120,
                                                            "business": 120}})
    tickets_file, metrics_file = folder / "tickets.json", folder / "ticket_metrics.json"
    tickets_file.write_bytes(orjson.dumps({"tickets": rows, "next_page": None}))
    metrics_file.write_bytes(orjson.dumps({"ticket_metrics": metrics, "next_page": None}))
    return [tickets_file, metrics_file], 2 * tickets


def write_freshdesk(path: Path, tickets: int) -> int:
    rows = [{"id": n, "status": 4, "source": 1, "priority": 2, "type": "Question",
             "subject": f"Ticket {n}", "requester_id": 8000 + n % 5000,
             "responder_id": 600 + n % 40, "group_id": 40 + n % 4, "is_escalated": False,
             "created_at": _iso(n * 60.0), "updated_at": _iso(n * 60.0 + 7200),
             "stats": {"first_responded_at": _iso(n * 60.0 + 1800),
                       "resolved_at": _iso(n * 60.0 + 7200), "closed_at": None,
                       "reopened_at": None}} for n in range(tickets)]
    path.write_bytes(orjson.dumps(rows))
    return tickets


MAPPING = """delimiter = ";"
timezone = "Europe/Berlin"
time_format = "%d.%m.%Y %H:%M"
id_prefix = "hd-"
kind = "interaction"
[fields]
id = "Ticket"
created_at = "Opened"
first_response_at = "First reply"
resolved_at = "Closed"
status = { column = "State", values = { Solved = "resolved", Open = "open" } }
channel = { column = "Medium", values = { Mail = "email", Telephone = "phone" } }
agent_id = "Owner"
handle_s = { column = "Handling (min)", unit = "minutes" }
"""


def write_csv(folder: Path, rows: int) -> tuple[Path, Path]:
    path, mapping = folder / "export.csv", folder / "mapping.toml"
    mapping.write_text(MAPPING)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, delimiter=";")
        writer.writerow(["Ticket", "Opened", "First reply", "Closed", "State", "Medium",
                         "Owner", "Handling (min)"])
        for n in range(rows):
            opened = START + timedelta(minutes=n)
            writer.writerow([f"T-{n}", f"{opened:%d.%m.%Y %H:%M}",
                             f"{opened + timedelta(minutes=15):%d.%m.%Y %H:%M}",
                             f"{opened + timedelta(hours=2):%d.%m.%Y %H:%M}",
                             "Solved" if n % 3 else "Open", "Mail", f"agent{n % 40}",
                             "12.5"])
    return path, mapping


def _drain(rows: object) -> None:
    deque(rows, maxlen=0)  # type: ignore[call-overload]


def _bare_lines(path: Path) -> None:
    with path.open() as handle:
        for line in handle:
            line.rstrip("\n").split("|")


def _bare_json(paths: list[Path]) -> Callable[[], None]:
    def run() -> None:
        for path in paths:
            orjson.loads(path.read_bytes())
    return run


def _bare_csv(path: Path) -> None:
    with path.open(newline="") as handle:
        _drain(csv.reader(handle, delimiter=";"))


def run_connectors_bench(size: int = 50_000, runs: int = 3, write: bool = True) -> str:
    """Median seconds, rows/s and the ratio to the bare parser for each format."""
    results: list[tuple[str, int, float, float]] = []
    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        log = folder / "queue_log"
        lines = write_queue_log(log, size)
        results.append(("asterisk (queue_log lines)", lines,
                         median(time_runs(lambda: _drain(QUEUE_LOG.read([log])), runs)),
                         median(time_runs(lambda: _bare_lines(log), runs))))
        zendesk_files, zendesk_rows = write_zendesk(folder, size // 2)
        results.append(("zendesk (tickets + metrics)", zendesk_rows,
                         median(time_runs(lambda: _drain(ZENDESK.read(zendesk_files)), runs)),
                         median(time_runs(_bare_json(zendesk_files), runs))))
        freshdesk_file = folder / "freshdesk.json"
        freshdesk_rows = write_freshdesk(freshdesk_file, size // 2)
        results.append(("freshdesk (tickets)", freshdesk_rows,
                        median(time_runs(lambda: _drain(FRESHDESK.read([freshdesk_file])),
                                         runs)),
                        median(time_runs(_bare_json([freshdesk_file]), runs))))
        csv_file, mapping = write_csv(folder, size)
        options = ConnectorOptions(mapping=mapping)

        def read_csv() -> None:
            parse_cell_time.cache_clear()  # every run parses its times afresh
            _drain(CSV.read([csv_file], options))

        results.append(("csv (mapped rows)", size, median(time_runs(read_csv, runs)),
                        median(time_runs(lambda: _bare_csv(csv_file), runs))))
    table = ["| format | source rows | median s | rows/s | bare parser s | ratio |",
             "|---|---:|---:|---:|---:|---:|"]
    for name, rows, seconds, baseline in results:
        table.append(f"| {name} | {rows:,} | {seconds:.2f} | {rows / seconds:,.0f} | "
                     f"{baseline:.3f} | {seconds / baseline:.1f}x |")
    markdown = "\n".join([
        "## Connectors (`servicepulse bench connectors`)", "",
        f"{machine_line()}; median of {runs} runs. Conversion only (no store): a connector "
        "reading a synthetic export fully, against the bare parser on the same file "
        "(split lines, orjson.loads, csv.reader).", "", *table])
    if write:
        write_section("connectors", markdown)
    return markdown


if __name__ == "__main__":  # pragma: no cover
    print(run_connectors_bench())
