"""The dashboard's icon: linked from every page, and at `/favicon.ico` for the browsers
and tools that ask for it there without reading the page."""

from __future__ import annotations

from flask import Flask, Response, current_app

from webapp.web.access import public

ICON_MAX_AGE = 24 * 3600


@public
def favicon() -> Response:
    """The icon (a 32x32 ICO), open to anyone: the login page asks for it too."""
    response = current_app.send_static_file("favicon.ico")
    response.headers["Cache-Control"] = f"public, max-age={ICON_MAX_AGE}"
    return response


def init_app(app: Flask) -> None:
    app.add_url_rule("/favicon.ico", "favicon", favicon)
