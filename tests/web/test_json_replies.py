"""JSON replies: the fast encoder answers as the standard library would, or hands back to it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from flask import jsonify
from markupsafe import Markup

from webapp.privacy.markers import FORGOTTEN, Masked, Unreadable
from webapp.web import rendering

VALUES = {
    "times": {"at": datetime(2026, 12, 5, 16, 11, tzinfo=UTC), "on": date(2026, 12, 5)},
    "id": uuid.UUID("5ce49eaf-1fc1-459c-a8ed-4a2f7d5fcad5"),
    "span": timedelta(minutes=2),
    "tags": {"a"},
    "pair": ("x", 1),
    "text": "Zoë <b> \u2028",
    "numbers": [0, -1, 2**63 - 1, 1.5],
}


@pytest.mark.parametrize(
    "value",
    [VALUES, {"big": 2**70}, {1: "int key"}, {"markup": Markup("<i>x</i>")}, {"bad": "\ud800"}],
    ids=["event values", "beyond 64 bits", "int keys", "str subclass", "lone surrogate"],
)
def test_a_reply_reads_as_the_standard_library_writes_it(app, value):
    expected = json.loads(json.dumps(value, default=rendering.json_default))

    with app.app_context():
        reply = jsonify(value)

    assert reply.mimetype == "application/json"
    assert reply.get_data().endswith(b"\n")
    assert json.loads(reply.get_data()) == expected


@pytest.mark.skipif(rendering.orjson is None, reason="orjson (the `fast` extra) not installed")
def test_values_only_the_standard_library_encodes_are_handed_back_to_it():
    assert rendering.fast_json(VALUES) is not None
    for value in ({"big": 2**70}, {1: "int key"}, {"bad": "\ud800"}):
        assert rendering.fast_json(value) is None


@pytest.mark.skipif(rendering.orjson is None, reason="orjson (the `fast` extra) not installed")
def test_personal_data_placeholders_keep_the_fast_encoder():
    """A page a viewer reads is full of masked fields: it must not fall back to the
    standard library, and must read as the standard library would write it."""
    page = {
        "masked": Masked("user-1"),
        "forgotten": FORGOTTEN,
        "unreadable": Unreadable("no key"),
        "markup": Markup("<i>x</i>"),
    }

    body = rendering.fast_json(page)

    assert body is not None
    assert json.loads(body) == json.loads(json.dumps(page))
    assert json.loads(body)["masked"] == "\u2022\u2022\u2022"


def test_debug_mode_replies_stay_indented(app):
    app.debug = True

    with app.app_context():
        body = jsonify({"a": 1}).get_data(as_text=True)

    assert body == '{\n  "a": 1\n}\n'


@pytest.mark.parametrize(
    "at",
    [
        datetime(2026, 12, 5, 16, 11, 7, 123456, tzinfo=UTC),
        datetime(2026, 12, 5, 16, 11, tzinfo=UTC),
        datetime(1, 1, 1, tzinfo=UTC),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(2026, 12, 5, 16, 11, 7, 5),
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(seconds=30))),
        datetime(2026, 1, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
    ],
    ids=["utc", "utc whole minute", "year 1", "year 9999", "naive", "offset 30 s", "+05:30"],
)
def test_times_are_written_as_isoformat_writes_them(app, at):
    with app.app_context():
        reply = rendering.json_reply({"at": rendering.utc_or_text(at)})

    assert reply.get_data() == b'{"at":"' + at.isoformat().encode() + b'"}\n'


@pytest.mark.parametrize(
    "value",
    [VALUES, {"big": 2**70}, {1: "int key"}, {"markup": Markup("<i>x</i>")}, {"bad": "\ud800"}],
    ids=["event values", "beyond 64 bits", "int keys", "str subclass", "lone surrogate"],
)
def test_a_page_reply_reads_as_jsonify_writes_it(app, value):
    with app.app_context():
        expected = jsonify(value).get_data()
        reply = rendering.json_reply(value)

    assert reply.mimetype == "application/json"
    assert json.loads(reply.get_data()) == json.loads(expected)
