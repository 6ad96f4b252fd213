"""Reports: a read model as of a moment, downloaded as CSV (`webapp.queries.reports`).

`GET /reports/<read_model>.csv` takes the moment as the read-model pages do (`position=P`,
or `as_of=ISO` with `clock=`; neither: the head of the log now). The file, its name
(`accounts-at-1234.csv`) and the `X-Read-Model`, `X-Position` and `X-As-Of` headers say
which position and time it reflects. Personal data is masked as the pages mask it, and
every download of it is written to the access log.
"""

from __future__ import annotations

from collections.abc import Iterator

from flask import Blueprint, Response, abort, request

from webapp.projections import ReplayRefused
from webapp.queries.reports import NoSuchReport, open_report, report_csv
from webapp.queries.state import RECORDED
from webapp.web.access import requires_role
from webapp.web.context import current_viewer, get_runtime, needs_domain
from webapp.web.filters import parse_moment, parse_time

bp = Blueprint("reports", __name__, url_prefix="/reports")


@bp.get("/<read_model>.csv")
@requires_role("viewer")
@needs_domain
def read_model_csv(read_model: str) -> Response:
    """Every row of `read_model` as it stood at the chosen moment, in key order, as CSV."""
    runtime = get_runtime()
    position = parse_moment()
    asked_at = parse_time("as_of", request.args.get("as_of", ""))
    clock = request.args.get("clock", "").strip() or RECORDED
    try:
        report = open_report(runtime, read_model, position=position, asked_at=asked_at, clock=clock)
    except NoSuchReport as missing:
        abort(404, description=f"No report: {missing}.")
    chunks = report_csv(runtime, report, current_viewer())
    try:
        first = next(chunks)  # the first batch is read (and logged) before the reply starts
    except ReplayRefused as refused:
        abort(409, description=f"{read_model} cannot be rebuilt at {report.position}: {refused}")

    def body() -> Iterator[str]:
        yield first
        yield from chunks

    response = Response(body(), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{report.filename}"'
    response.headers["Cache-Control"] = "no-store"
    response.headers["X-Read-Model"] = report.read_model
    response.headers["X-Position"] = str(report.position)
    response.headers["X-As-Of"] = report.as_of
    return response
