"""Request logs that never hold a query string: the werkzeug server of `eventscope demo` and
`browse`, and gunicorn's access and error logs under `eventscope serve`.

A query string can carry personal data (a search, a filter on event data, a link
someone pasted), and a log file is out of reach of forget. Routes change; a rule
per route would miss the next one. So every line these servers write keeps the
method, the path and the status and drops whatever follows a `?`, in the request
line and in the Referer alike:

    >>> without_query('"GET /subjects/?q=ada@example.org HTTP/1.1" 400 -')
    '"GET /subjects/ HTTP/1.1" 400 -'

Personal data is looked up by POST (`POST /api/subjects/lookup`, the Subjects
page's form), so nothing is lost by this: a path names pages and pseudonymous
ids, never a person's name or address.
"""

from __future__ import annotations

import logging
import re
import time
import traceback
from typing import Any

from gunicorn.config import AccessLogFormat
from gunicorn.glogging import Logger as GunicornLogger
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

QUERY = re.compile(r"\?[^\s\"'<>\x1b]+")
"""A query string in a request line, a URL or a message quoting one: up to the next space,
quote or bracket."""

SERVER_LOGGERS = ("werkzeug", "gunicorn.access", "gunicorn.error")
"""The loggers the request-serving code writes to; each gets `QueryStringFilter`."""


def without_query(text: str) -> str:
    """`text` with every query string cut out (the `?` and what follows it up to a space)."""
    return QUERY.sub("", text)


class QueryStringFilter(logging.Filter):
    """Rewrites each record to its message without query strings (never drops a record)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "?" in message:
            record.msg, record.args = without_query(message), None
        return True


def install_query_filter(*logger_names: str) -> None:
    """Give each named logger (default: `SERVER_LOGGERS`) a `QueryStringFilter`, once."""
    for name in logger_names or SERVER_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, QueryStringFilter) for f in logger.filters):
            logger.addFilter(QueryStringFilter())


class PathOnlyRequestHandler(WSGIRequestHandler):
    """werkzeug's request handler, logging paths without query strings (request lines and
    the errors that quote a malformed one)."""

    def log(self, type: str, message: str, *args: Any) -> None:
        text = message % args if args else message
        super().log(type, "%s", without_query(text))


def make_dashboard_server(host: str, port: int, app: Any) -> BaseWSGIServer:
    """A threaded werkzeug server for `app` whose request log holds no query strings."""
    install_query_filter()
    return make_server(host, port, app, threaded=True, request_handler=PathOnlyRequestHandler)


class PathOnlyGunicornLogger(GunicornLogger):
    """gunicorn's logger with `QueryStringFilter` on its access and error logs; the `%(q)s`
    atom (the bare query string) is always "-"."""

    def setup(self, cfg: Any) -> None:
        super().setup(cfg)
        install_query_filter("gunicorn.access", "gunicorn.error")

    def atoms(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> Any:
        atoms = super().atoms(resp, req, environ, request_time)
        atoms["q"] = "-"
        atoms["{query_string}e"] = "-"
        return atoms

    def access(self, resp: Any, req: Any, environ: dict[str, Any], request_time: Any) -> None:
        """The default (combined) format written from the nine values it names; gunicorn's
        own path collects every header and environ variable first, a large share of a
        small request's time. Any other format takes that path."""
        if not self.access_log_enabled:
            return
        if self.cfg.access_log_format != AccessLogFormat.default:
            super().access(resp, req, environ, request_time)
            return
        status = resp.status
        if isinstance(status, str):
            status = status.split(None, 1)[0]
        sent = getattr(resp, "sent", None)
        uri = environ["RAW_URI"].partition("?")[0]
        logger = self.access_log
        if not logger.isEnabledFor(logging.INFO):
            return
        line = '%s - %s %s "%s %s %s" %s %s "%s" "%s"' % (  # noqa: UP031 - one C call
            environ.get("REMOTE_ADDR", "-"),
            _quoted(self._get_user(environ) or "-"),
            self._now_text(),
            _quoted(environ["REQUEST_METHOD"]),
            _quoted(uri),
            _quoted(environ["SERVER_PROTOCOL"]),
            status,
            "-" if sent is None else str(sent),
            _quoted(without_query(environ.get("HTTP_REFERER", "-"))),
            _quoted(environ.get("HTTP_USER_AGENT", "-")),
        )
        try:
            # the record built here, not by `info`: that would walk the stack for the
            # caller's file and line, which an access line never shows
            logger.handle(
                logger.makeRecord(logger.name, logging.INFO, "(access)", 0, line, (), None)
            )
        except Exception:  # noqa: BLE001 - as gunicorn does: a log failure is no request failure
            self.error(traceback.format_exc())

    _now_second: int = -1
    _now_cached: str = ""

    def _now_text(self) -> str:
        """gunicorn's `now()` ("[06/Dec/2026:03:10:00 +0000]"), formatted once a second."""
        second = int(time.time())
        if second != self._now_second:
            self._now_cached, self._now_second = self.now(), second
        return self._now_cached


def _quoted(text: str) -> str:
    """A value inside the combined format's quotes, as gunicorn escapes it."""
    return text.replace('"', '\\"') if '"' in text else text
