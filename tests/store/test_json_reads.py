"""Payloads read back exactly as the standard library reads them, on both backends.

Stored JSON is read by orjson where it gives `json.loads`'s answer and by `json.loads`
where it might not (integers beyond 64 bits, lone surrogates, NaN and infinities).
"""

from __future__ import annotations

import json
import math
import sqlite3

import pytest
import sqlalchemy as sa

from webapp.database.json_loads import load_json, load_json_texts
from webapp.store import sqlite as sqlite_store
from webapp.store.sqlite import _in_order
from webapp.store.types import NewEvent

EXACT = {
    "amount_in_cents": 123456789012345678901234567890,
    "negative": -98765432109876543210,
    "limit": 18446744073709551615,
    "fraction": 0.1,
    "tiny": 5e-324,
    "text": "Zoë ☃ \u2028",
    "nested": {"list": [1, 2.5, None, True, "x"]},
}


def test_a_payload_with_big_integers_reads_back_exactly(store):
    store.append("ledger-1", [NewEvent("Booked", EXACT, {"note": 10**25})])

    [event] = store.read_stream("ledger-1")

    assert event.data == EXACT
    assert type(event.data["amount_in_cents"]) is int
    assert event.metadata == {"note": 10**25}
    assert [e.data for e in store.read_all(types=["Booked"])] == [EXACT]


@pytest.mark.parametrize(
    "text",
    [
        '{"a": 123456789012345678901234567890}',
        '{"a": "\\ud800"}',
        '{"a": NaN, "b": Infinity, "c": 1e400}',
        '{"a": 0.1234567890123456789}',
        ' {"a": 1} ',
        '{"a": -0, "b": -0.0, "c": 1E5}',
        '{"a": 1234567890123456789, "b": 12345678901234567890}',
        '{"a": "\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660'
        '\u0661\u0662\u0663\u0664\u0665\u0666\u0667\u0668\u0669\u0660", "b": 7}',
        '{"a": "\ud800 is a lone surrogate written as itself"}',
    ],
)
def test_every_text_reads_as_the_standard_library_reads_it(text):
    forms: list[str | bytes | memoryview] = [text]
    if "\ud800" not in text:  # a lone surrogate has no UTF-8 bytes
        forms += [text.encode(), memoryview(text.encode())]
    for form in forms:
        read = load_json(form)
        expected = json.loads(bytes(form) if isinstance(form, memoryview) else form)
        assert json.dumps(read) == json.dumps(expected)
        assert [type(v) for v in read.values()] == [type(v) for v in expected.values()]


TEXTS = [
    '{"a": 123456789012345678901234567890}',
    '{"a": "\\ud800"}',
    '{"a": NaN, "b": Infinity, "c": 1e400}',
    '{"a": 0.1234567890123456789}',
    '{"a": 1234567890123456789, "b": 12345678901234567890}',
    '{"a": "\ud800 is a lone surrogate written as itself"}',
    "{}",
    '{"amount": 5, "note": "ok"}',
]


@pytest.mark.parametrize("text", TEXTS)
def test_a_page_of_texts_reads_as_each_text_alone_reads(text):
    page = ['{"a": 1}', text, '{"b": [1, 2.5]}']

    read = load_json_texts(page)

    assert json.dumps(read) == json.dumps([json.loads(t) for t in page])
    assert [type(v) for v in read[1].values()] == [type(v) for v in json.loads(text).values()]


def test_a_long_number_anywhere_in_a_page_reads_exactly():
    # texts that are numbers meet at the border: 10 + 10 digits, read exactly either way
    assert load_json_texts(["1234567890", "1234567890"]) == [1234567890, 1234567890]
    read = load_json_texts(["[1]"] * 3 + ["[12345678901234567890123]"])

    assert read == [[1]] * 3 + [[12345678901234567890123]]
    assert type(read[-1][0]) is int


def test_a_page_of_bytes_reads_as_one_of_text():
    page = [b'{"a": 12345678901234567890123}', b'{"b": 1}']

    assert load_json_texts(page) == [{"a": 12345678901234567890123}, {"b": 1}]
    assert load_json_texts([]) == []


def test_nan_stays_nan():
    assert math.isnan(load_json('{"a": NaN}')["a"])


TRICKY = [
    {"quote": 'say "hi"', "slash": "a\\b/c", "controls": "tab\there\nnewline\u0001"},
    {"text": "Zoë ☃ \u2028 😀", "empty": {}, "list": [], "deep": {"a": {"b": [1, {"c": None}]}}},
    {"big": 10**30, "negative": -(10**20), "fraction": 0.1, "flag": False},
    {"closing": "]]", "commas": ",,", "brackets": "[[{"},
]


def test_pages_read_every_payload_exactly_in_their_order(store):
    """A page is read as one text the database builds (SQLite): every field survives it,
    forward and backward, in the log and in a stream."""
    stream = 'odd "stream" \\ ids]'
    events = [NewEvent("Tricky", data, {"n": n, "note": data}) for n, data in enumerate(TRICKY)]
    store.append(stream, events)
    store.append("other-1", [NewEvent("Plain", {"x": 1}, {})])

    forward = store.read_all(0, limit=10)
    backward = store.read_all_backward(None, limit=10)
    in_stream = store.read_stream(stream, 1, limit=10)
    stream_back = store.read_stream(stream, None, limit=10, backward=True)

    assert [e.data for e in forward] == [*TRICKY, {"x": 1}]
    assert [e.metadata["n"] for e in forward[:4]] == [0, 1, 2, 3]
    assert [e.metadata["note"] for e in forward[:4]] == TRICKY
    assert [e.stream_id for e in forward] == [stream] * 4 + ["other-1"]
    assert [e.position for e in forward] == sorted(e.position for e in forward)
    assert [e.data for e in backward] == [e.data for e in reversed(forward)]
    assert [(e.stream_version, e.data) for e in in_stream] == list(enumerate(TRICKY, 1))
    assert [e.stream_version for e in stream_back] == [4, 3, 2, 1]
    assert {e.stream_id for e in in_stream} == {stream}
    assert type(in_stream[2].data["big"]) is int


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_page_that_comes_back_out_of_order_is_read_again_row_by_row(store, monkeypatch):
    store.append("odd-1", [NewEvent("Tricky", data, {"n": n}) for n, data in enumerate(TRICKY)])
    expected = [(e.position, e.data, e.metadata) for e in store.read_all(0, limit=10)]
    monkeypatch.setattr(sqlite_store, "_in_order", lambda positions: False)

    again = [(e.position, e.data, e.metadata) for e in store.read_all(0, limit=10)]
    in_stream = store.read_stream("odd-1", 1, limit=10)

    assert again == expected
    assert [e.data for e in in_stream] == TRICKY


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_page_longer_than_sqlite_allows_in_one_text_is_read_row_by_row(store):
    big = {"text": "x" * 3000}
    store.append("big-1", [NewEvent("Big", big, {}) for _ in range(3)])

    @sa.event.listens_for(store.engine, "connect")
    def short_texts(dbapi_conn, _record):  # every new connection: texts up to 5,000 bytes
        dbapi_conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, 5000)

    store.engine.dispose()

    assert [e.data for e in store.read_stream("big-1")] == [big] * 3
    assert [e.data for e in store.read_all(0, limit=10)] == [big] * 3


def test_the_order_check_sees_one_direction_only():
    assert _in_order([]) and _in_order([7]) and _in_order([1, 2, 9]) and _in_order([9, 4, 1])
    assert not _in_order([1, 3, 2])
    assert not _in_order([3, 3])
