"""The dashboard and JSON API: a Flask app over the layers below (see `create_app`)."""

from __future__ import annotations

from webapp.web.app import create_app

__all__ = ["create_app"]
