"""The web benchmark's section: each goal judged from the figures, with when and under what
load they were measured."""

from __future__ import annotations

import asyncio

from servicepulse.bench.web import Measured, _load, goal_lines, percentile, read_response, report


def _measured(**changes: object) -> Measured:
    figures: dict[str, object] = {
        "backend": "sqlite",
        "cold_s": {"overview page": 1.5},
        "latencies_ms": {"baseline /health": [10.0, 20.0], "overview page": [40.0, 140.0],
                         "team page": [30.0, 149.0]},
        "ingest_records_per_s": 12_500.0, "ingest_direct_records_per_s": 25_000.0,
        "live_counts_ms": [100.0, 300.0], "live_kpis_ms": [400.0, 900.0],
        "measured_at": "2026-11-23 18:00", "load_before": [1.25, 2.0, 3.0],
        "load_after": [2.0, 2.5, 3.0], "settle_s": 12.0, "after_import_s": 8.5,
    }
    figures.update(changes)
    return Measured(**figures)  # type: ignore[arg-type]


def test_p95_is_the_nearest_rank() -> None:
    assert percentile([float(n) for n in range(1, 101)], .95) == 95.0
    assert percentile([40.0, 140.0], .95) == 140.0
    assert percentile([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0], .95) == 10.0


def test_every_goal_met() -> None:
    assert goal_lines([_measured()])[2] == (
        "| sqlite | 2026-11-23 18:00 | 1.2/2.0/3.0 → 2.0/2.5/3.0 | met (slowest 149 ms) | "
        "met (12,500/s) | met (300 ms, 900 ms) |")


def test_each_goal_missed() -> None:
    line = goal_lines([_measured(
        latencies_ms={"baseline /health": [1.0], "overview page": [151.0]},
        ingest_records_per_s=9_999.0, live_kpis_ms=[1001.0], load_before=[])])[2]
    assert line == ("| sqlite | 2026-11-23 18:00 | not recorded → 2.0/2.5/3.0 | "
                    "**missed** (slowest 151 ms) | **missed** (9,999/s) | "
                    "**missed** (300 ms, 1001 ms) |")


def test_the_section_names_when_each_backend_was_measured() -> None:
    section = report([_measured(), _measured(backend="postgresql",
                                             measured_at="2026-11-23 18:20")], 1_000_000, 50)
    assert "2 cores, measured 2026-11-23 18:00 and 2026-11-23 18:20 UTC." in section
    assert "| sqlite | 12,500 | 25,000 | 0.50 | 12.0 / 8.5 | 200 / 300 | 650 / 900 |" in section


def _reader(data: bytes) -> asyncio.StreamReader:
    reader = asyncio.StreamReader()
    reader.feed_data(data)
    reader.feed_eof()
    return reader


def test_the_load_generator_reads_a_response_with_a_length() -> None:
    async def scenario() -> tuple[int, bytes, bytes]:
        reader = _reader(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\nx-a: b\r\n\r\nhelloHTTP/1.1 404 "
                         b"Not Found\r\nContent-Length: 2\r\n\r\nno")
        status, body = await read_response(reader)
        second = await read_response(reader)  # the next response on the same connection
        return status, body, second[1]

    assert asyncio.run(scenario()) == (200, b"hello", b"no")


def test_the_load_generator_reads_a_chunked_response() -> None:
    async def scenario() -> tuple[int, bytes]:
        return await read_response(_reader(
            b"HTTP/1.1 201 Created\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"4\r\nabcd\r\n3;x=y\r\nefg\r\n0\r\n\r\n"))

    assert asyncio.run(scenario()) == (201, b"abcdefg")


def test_the_load_generator_times_every_request_on_kept_connections() -> None:
    seen: list[bytes] = []
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        while True:
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            seen.append(head)
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            await writer.drain()
        writer.close()

    async def scenario() -> tuple[int, list[float]]:
        server = await asyncio.start_server(serve, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        async with server:
            return port, await _load(f"http://127.0.0.1:{port}", {"Authorization": "Bearer t"},
                                     "/health?x=1", clients=3, per_client=4)

    port, latencies = asyncio.run(scenario())
    assert len(latencies) == 12 and all(ms >= 0 for ms in latencies)
    assert len(connections) == 3  # one kept connection per client
    assert len(seen) == 12
    assert set(seen) == {f"GET /health?x=1 HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                         "Authorization: Bearer t\r\n\r\n".encode()}
