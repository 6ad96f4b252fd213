"""The running eventscope as the web layer sees it, and who is reading."""

from __future__ import annotations

from flask import current_app

from webapp.bootstrap import Runtime
from webapp.queries import Viewer
from webapp.web.access import current_account

EXTENSION_KEY = "eventscope"


def get_runtime() -> Runtime:
    """The Runtime built by `build_runtime`, stored on the app by `create_app`; the queries
    read from it as their parts."""
    return current_app.extensions[EXTENSION_KEY]


def current_viewer() -> Viewer:
    """The signed-in account as the queries see it: its name and role (anonymous: a viewer)."""
    account = current_account()
    if account is None:
        return Viewer()
    return Viewer(actor=account.name, role=account.role)
