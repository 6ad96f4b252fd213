"""Identifiers that come from data (stream ids, subject ids, account numbers) in URLs.

Such an id may hold any character, `/` and `%` included. A link sends `/` as `%2F`
(else a browser folds `user-a/../b` into `/streams/b`, another page), and a server
decodes `%2F` back to `/` before routing, so `/streams/x%2Fstate` (the stream
`x/state`) and `/streams/x/state` (the state of stream `x`) would reach the router as
the same path. `KeepEncodedSlashes` rewrites the path from the request's raw URI with
`%2F` and `%25` left encoded; the `id` converter matches one path segment and decodes
them. Without a raw URI (a server that gives none), `%` is re-encoded and an id
holding `/` no longer matches: a 404, never another page. Other converters get `%2F`
and `%25` as sent, so a route whose value may hold `/` or `%` takes it with `id`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from flask import request, url_for
from werkzeug.routing import BaseConverter, BuildError

SAFE_IN_A_SEGMENT = "!$&'()*+,:;=@"
_KEPT = re.compile(r"%(2[Ff]|25)")
_ESCAPE = re.compile(r"%([0-9A-Fa-f]{2})")


class IdentifierConverter(BaseConverter):
    """One path segment, holding any id: `/` and `%` travel as `%2F` and `%25`."""

    regex = "[^/]+"

    def to_python(self, value: str) -> str:
        return _KEPT.sub(lambda m: "%" if m.group(1) == "25" else "/", value)

    def to_url(self, value: str) -> str:
        return quote(str(value), safe=SAFE_IN_A_SEGMENT)


def _segments_kept(raw_path: str) -> list[str]:
    """The raw path as WSGI characters (one per byte), each escape decoded except `%2F`
    and `%25`; a stray `%` becomes `%25`."""
    out: list[str] = []
    i = 0
    while i < len(raw_path):
        char = raw_path[i]
        if char == "%":
            escape = _ESCAPE.match(raw_path, i)
            if escape:
                code = escape.group(1).upper()
                out.append(f"%{code}" if code in {"2F", "25"} else chr(int(code, 16)))
                i += 3
                continue
            out.append("%25")
        else:
            out.append(char)
        i += 1
    return out


def _decoded(kept: str) -> str:
    return kept if len(kept) == 1 else chr(int(kept[1:], 16))


def path_with_ids_kept(environ: dict[str, Any]) -> str:
    """PATH_INFO with `%2F` and `%25` as the client sent them (see the module's note)."""
    path_info: str = environ.get("PATH_INFO", "")
    raw = environ.get("RAW_URI") or environ.get("REQUEST_URI")
    if raw:
        raw_path = raw.split("?", 1)[0].split("#", 1)[0]
        if "://" in raw_path:  # an absolute request target: drop scheme and host
            raw_path = "/" + raw_path.split("://", 1)[1].partition("/")[2]
        if "%" not in raw_path and raw_path.endswith(path_info):
            return path_info  # nothing was decoded: the common case, on every request
        kept = _segments_kept(raw_path)
        # trust the raw URI only where it decodes to the path the server gave (a proxy or
        # a mount point may have taken a prefix off)
        tail = kept[len(kept) - len(path_info) :] if len(path_info) <= len(kept) else None
        if tail is not None and "".join(map(_decoded, tail)) == path_info:
            return "".join(tail)
    return path_info.replace("%", "%25")


class KeepEncodedSlashes:
    """WSGI middleware: route on the path with ids' `%2F` and `%25` still encoded."""

    def __init__(self, app: Callable[..., Iterable[bytes]]) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        environ["PATH_INFO"] = path_with_ids_kept(environ)
        return self.app(environ, start_response)


def requested_page() -> str:
    """This request's path and query, rebuilt by `url_for` so that ids stay encoded
    (`?` inside an id is decoded in `request.full_path`). For `next=` links back here."""
    if request.url_rule is not None and request.endpoint:
        values: dict[str, Any] = {
            k: v for k, v in request.args.to_dict(flat=False).items() if not k.startswith("_")
        }
        values.update(request.view_args or {})
        try:
            return url_for(request.endpoint, **values)
        except BuildError:
            pass
    return request.full_path
