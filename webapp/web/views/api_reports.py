"""The JSON twin of the CSV reports: `GET /api/read/<read_model>`, a page of rows at a moment.

Added to the `api` blueprint (importing this module registers it). The same moment as the
CSV (`position`, or `as_of` with `clock`; neither: the head of the log now), the rows in key
order keyset-paged by `after`. The reply names the position it reflects: pass it back with
`after=<next>` so every page reads the same moment. As everywhere in the API, support and
admin tokens read personal data in clear and viewers masked; each subject on a page of a
read model holding personal data gets an access-log entry.
"""

from __future__ import annotations

import uuid

from flask import abort, jsonify, request
from werkzeug.wrappers import Response

from webapp.projections import ReplayRefused
from webapp.queries.reports import NoSuchReport, open_report, report_page
from webapp.queries.state import RECORDED
from webapp.web.access import requires_role
from webapp.web.context import current_viewer, get_runtime, needs_domain
from webapp.web.filters import parse_moment, parse_time
from webapp.web.views.api import bp, limit_arg, str_arg


@bp.get("/read/<read_model>")
@requires_role("viewer")
@needs_domain
def read_model_page(read_model: str) -> Response:
    """A page of a read model's rows in key order, as they stood at a moment (`position`, or
    `as_of` and `clock`; neither: the head now), with the `position` it reflects; `next` is
    the last key of the page while more follow (pass it as `after`, with that `position`)."""
    runtime = get_runtime()
    position = parse_moment()
    asked_at = parse_time("as_of", request.args.get("as_of", ""))
    clock = request.args.get("clock", "").strip() or RECORDED
    after, limit = str_arg("after"), limit_arg()
    try:
        report = open_report(runtime, read_model, position=position, asked_at=asked_at, clock=clock)
    except NoSuchReport as missing:
        abort(404, description=str(missing))
    download = f"api {uuid.uuid4().hex[:12]}"
    try:
        shown, more = report_page(
            runtime, report, current_viewer(), after=after, limit=limit, download=download
        )
    except ReplayRefused as refused:
        abort(409, description=f"{read_model} cannot be rebuilt at {report.position}: {refused}")
    return jsonify(
        read_model=report.read_model,
        position=report.position,
        as_of=report.as_of,
        rows=[{column: row.get(column) for column in report.columns} for row in shown],
        next=str(shown[-1][report.key]) if more and shown else None,
    )
