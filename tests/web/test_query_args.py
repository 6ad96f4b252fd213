"""Query parameters read as werkzeug's do, an absent one without raising inside."""

from __future__ import annotations

from flask import request

from webapp.web.query_args import QueryArgs


def test_a_parameter_reads_as_given_and_an_absent_one_as_its_default():
    args = QueryArgs([("limit", "20"), ("type", "A"), ("type", "B"), ("bad", "x")])

    assert args.get("limit") == "20"
    assert args.get("limit", type=int) == 20
    assert args.get("bad", 7, type=int) == 7  # a value the type refuses reads as the default
    assert args.get("after") is None
    assert args.get("after", "0") == "0"
    assert args.getlist("type") == ["A", "B"]


def test_the_apps_requests_carry_their_query_in_query_args(app):
    with app.test_request_context("/api/events?limit=5"):
        assert isinstance(request.args, QueryArgs)
        assert request.args.get("limit", type=int) == 5
        assert request.args.get("after") is None
