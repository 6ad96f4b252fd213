"""Error pages for people and `{"error": ...}` bodies for the JSON API."""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from flask import (
    Flask,
    Response,
    current_app,
    jsonify,
    make_response,
    render_template,
    request,
)
from jinja2 import TemplateNotFound
from werkzeug.exceptions import HTTPException, InternalServerError

from webapp.database.engine import is_store_unavailable, unavailable_reason
from webapp.web.access import wants_json
from webapp.web.metrics import EXTENSION_KEY as METRICS_KEY

log = logging.getLogger(__name__)

TITLES = {
    400: "Bad request",
    401: "Please log in",
    403: "Not allowed",
    404: "Not found",
    405: "Method not allowed",
    409: "Conflict",
    413: "Request too large",
    422: "Cannot do that",
    500: "Something went wrong",
    503: "Not available",
}


STORE_UNAVAILABLE = (
    "The event store did not answer: it may be restarting, out of reach or held by a long "
    "lock (a migration, say). Try again in a moment."
)
STORE_RETRY_SECONDS = 5


class RequestRefused(HTTPException):
    """A refusal with a status of our choosing and extra JSON fields (e.g. a domain error code)."""

    def __init__(self, status: int, message: str, **details: Any) -> None:
        super().__init__(description=message)
        self.code = status
        self.details = details


def error_response(
    code: int, message: str, details: dict[str, Any] | None = None
) -> tuple[Response | str, int]:
    if wants_json():
        return jsonify({"error": message, **(details or {})}), code
    title = TITLES.get(code, "Error")
    try:
        body = render_template(f"errors/{code}.html", code=code, title=title, message=message)
    except TemplateNotFound:
        body = render_template("errors/error.html", code=code, title=title, message=message)
    return body, code


def handle_http_exception(exc: HTTPException) -> tuple[Response | str, int] | Response:
    if exc.code is None:
        return exc.get_response()
    details = getattr(exc, "details", None)
    return error_response(exc.code, exc.description or TITLES.get(exc.code, "Error"), details)


def handle_unexpected(exc: Exception) -> tuple[Response | str, int] | Response:
    if isinstance(exc, HTTPException):
        return handle_http_exception(exc)  # type: ignore[return-value]
    if is_store_unavailable(exc):
        return handle_store_unavailable(exc)
    log.exception("unhandled error", exc_info=exc)
    return error_response(500, InternalServerError.description)


def handle_store_unavailable(exc: Exception) -> Response:
    """503 with Retry-After when the database cannot be reached or gives up waiting (a lock or
    statement timeout): the operator's problem, not a bug, so logged as a warning in one line.

    An htmx fragment request (a live part's poll, a live search) keeps the page: the answer
    is a notice swapped into the page's `#store-status`, and polls go on, so the page
    recovers by itself. Navigations and scripts get the error page or JSON.
    """
    log.warning("the store did not answer: %s", unavailable_reason(exc))
    metrics = current_app.extensions.get(METRICS_KEY)
    if metrics is not None:
        metrics.store_unavailable.inc()
    if request.headers.get("HX-Request") == "true" and request.headers.get("HX-Boosted") != "true":
        at = datetime.now(UTC).strftime("%H:%M:%S")
        message = (
            f"The event store did not answer at {at} UTC, so this page may be out of date. "
            "Its live parts keep trying by themselves; for anything else, try again in a moment."
        )
        response = make_response(render_template("errors/_store_notice.html", message=message), 503)
        response.headers["HX-Retarget"] = "#store-status"
        response.headers["HX-Reswap"] = "innerHTML"
    else:
        response = make_response(error_response(503, STORE_UNAVAILABLE))
    response.headers["Retry-After"] = str(STORE_RETRY_SECONDS)
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(Exception, handle_unexpected)
