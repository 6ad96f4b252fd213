"""The running eventscope (store, domain, privacy, projections) as the web layer sees it."""

from __future__ import annotations

from typing import Any

from flask import current_app

from webapp.bootstrap import Runtime
from webapp.web.errors import not_available

EXTENSION_KEY = "eventscope"


def get_runtime() -> Runtime:
    """The Runtime built by `build_runtime`, stored on the app by `create_app`."""
    return current_app.extensions[EXTENSION_KEY]


def require_part(name: str, label: str) -> Any:
    """The runtime's `name` part (router, privacy, projections, registry) or a 503 if not wired."""
    part = getattr(get_runtime(), name, None)
    if part is None:
        raise not_available(label)
    return part
