"""The `id` URL converter for identifiers that come from data: stream ids, subject ids,
account numbers.

Such an id may hold any character, `/` included. The `path` converter matches it, but
its URLs keep `/` as it is, so a browser folds `user-a/../b` into `/streams/b`: a link
to another page. Here every `/` is sent as `%2F`; the server decodes it back before
routing, so the rule still matches the whole id.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from flask import request, url_for
from werkzeug.routing import BuildError, PathConverter

SAFE_IN_A_SEGMENT = "!$&'()*+,:;=@"


class IdentifierConverter(PathConverter):
    regex = ".+?"
    """Any id, a leading `/` included (the app does not merge `//` in paths for it)."""
    part_isolating = False  # werkzeug would guess True: the pattern has no `/` in it

    def to_url(self, value: str) -> str:
        return quote(str(value), safe=SAFE_IN_A_SEGMENT)


def requested_page() -> str:
    """This request's path and query, rebuilt by `url_for` so that ids stay encoded
    (`request.full_path` holds them decoded: `/` and `?` inside an id would be misread).
    For `next=` links back to this page."""
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
