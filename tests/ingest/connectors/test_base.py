"""Reading JSON exports: pages, bare arrays, JSON Lines, and what survives damage."""

from __future__ import annotations

from pathlib import Path

from servicepulse.ingest.connectors.base import (
    JsonDamage,
    JsonItem,
    iter_json_items,
    page_scalars,
)


def items(path: Path, text: str, keys: tuple[str, ...] = ("rows",)) -> list[object]:
    if text:  # "" reads the file as written
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


def test_the_break_is_located_to_the_byte(tmp_path: Path) -> None:
    f = tmp_path / "page.json"
    f.write_text('{"rows": [{"a": 1},\n {"a": 2,\n  "b": 3}\n {"a": 4}]}')
    [*_, damage] = iter_json_items(f, ("rows",))
    assert isinstance(damage, JsonDamage)
    assert (damage.line, damage.reason) == (4, (
        "invalid or truncated JSON after element 2 of 'rows' (at line 4, column 2, byte 42: "
        "after array element, I expect ',' or ']'); the elements before it were read"))
    f.write_text('{"rows": [{"a": 1},\n {"a": 2,\n  "b": [3,,]}]}')
    [*_, damage] = iter_json_items(f, ("rows",))
    assert isinstance(damage, JsonDamage)
    assert (damage.line, damage.reason) == (2, (
        "invalid or truncated JSON in element 2 of 'rows' (it starts at line 2; the JSON "
        "breaks at line 3, column 11, byte 41: unallowed token at this point in JSON text); "
        "the elements before it were read"))


def test_a_byte_that_is_not_utf8_costs_only_its_element(tmp_path: Path) -> None:
    f = tmp_path / "page.json"
    f.write_bytes(b'{"rows": [{"a": "caf\xe9"}, {"a": "caf\xc3\xa9"}, {"a": 2.5}]}')
    assert items(f, "") == [
        ("damage", 1, "element 1 of 'rows' holds a text with a byte that is not UTF-8"),
        ("rows", 2, {"a": "café"}), ("rows", 3, {"a": 2.5})]


def test_an_empty_page_has_no_rows(tmp_path: Path) -> None:
    f = tmp_path / "page.json"
    assert items(f, '{"rows": [], "next_page": null}') == []
    # the keys' rows in the order of the keys asked, wherever they are in the page
    assert items(f, '{"users": [{"u": 1}], "rows": [{"a": 1}]}', ("rows", "users")) == [
        ("rows", 1, {"a": 1}), ("users", 1, {"u": 1})]


def test_page_scalars_are_found_after_the_rows(tmp_path: Path) -> None:
    f = tmp_path / "comments.json"
    f.write_text('{"comments": [{"id": 1}], "next_page": "https://x/api/v2/tickets/33/'
                 'comments?page=2", "links": {"next": null}, "count": 1}')
    assert page_scalars(f, ("next_page", "links")) == {
        "next_page": "https://x/api/v2/tickets/33/comments?page=2", "links": {"next": None}}
    f.write_text('{"comments": [{"id": 1}, {"id"')  # broken before them
    assert page_scalars(f, ("next_page",)) == {}
