"""Reading JSON exports: pages, bare arrays, JSON Lines, and what survives damage."""

from __future__ import annotations

from pathlib import Path

from servicepulse.ingest.connectors.base import JsonDamage, JsonItem, iter_json_items


def items(path: Path, text: str, keys: tuple[str, ...] = ("rows",)) -> list[object]:
    path.write_text(text)
    out: list[object] = []
    for item in iter_json_items(path, keys):
        if isinstance(item, JsonItem):
            out.append((item.key, item.index, item.value))
        else:
            assert isinstance(item, JsonDamage)
            out.append(("damage", item.line, item.reason.split(" (")[0]))
    return out


def test_whole_documents(tmp_path: Path) -> None:
    f = tmp_path / "page.json"
    assert items(f, '{"rows": [{"a": 1}, {"a": 2}], "next_page": null}') == [
        ("rows", 1, {"a": 1}), ("rows", 2, {"a": 2})]
    assert items(f, '[{"a": 1}]') == [(None, 1, {"a": 1})]
    assert items(f, '{"a": 1}') == [(None, 1, {"a": 1})]  # one object: recognised by shape
    nested = '{"data": {"meta": {}, "payload": [{"a": 1}]}}'
    assert items(f, nested, ("data.payload",)) == [("data.payload", 1, {"a": 1})]


def test_damaged_documents_keep_what_came_before(tmp_path: Path) -> None:
    f = tmp_path / "page.json"
    assert items(f, '{"count": 2, "rows": [{"a": 1},\n {"a": 2}, {"a":') == [
        ("rows", 1, {"a": 1}), ("rows", 2, {"a": 2}),
        ("damage", 2, "invalid or truncated JSON in element 3 of 'rows'")]
    assert items(f, '[{"a": 1} {"a": 2}]') == [
        (None, 1, {"a": 1}), ("damage", 1, "invalid or truncated JSON after element 1")]
    assert items(f, '{"rows": [], "x": tru') == [
        ("damage", 1, "invalid or truncated JSON in the value of 'x'")]
    assert items(f, "<html>503</html>") == [
        ("damage", 1, "invalid or truncated JSON at the start of the file")]
    nested = '{"data": {"meta": {"n": 1},\n "payload": [{"a": 1}, {"a"'
    assert items(f, nested, ("data.payload",)) == [
        ("data.payload", 1, {"a": 1}),
        ("damage", 2, "invalid or truncated JSON in element 2 of 'data.payload'")]


def test_json_lines(tmp_path: Path) -> None:
    f = tmp_path / "rows.jsonl"
    assert items(f, '{"a": 1}\n\nnot json\n{"rows": [{"b": 2}]}\n') == [
        (None, 1, {"a": 1}), ("damage", 3, "line is not valid JSON"), ("rows", 4, {"b": 2})]
