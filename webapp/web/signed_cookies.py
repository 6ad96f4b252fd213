"""The session cookie, signed as Flask signs it, without per-request setup.

Flask builds a new signing serializer for every request, even one that carries no
session cookie at all (every API call with a token). This interface builds it once per
set of keys, and answers a request without the cookie with an empty session at once.
Signing, expiry and key rotation (`SECRET_KEY_FALLBACKS`) are Flask's own.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer


class SignedCookieSessions(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict[tuple[Any, ...], URLSafeTimedSerializer] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        if not app.secret_key:
            return None
        keys = (*(app.config["SECRET_KEY_FALLBACKS"] or ()), app.secret_key)
        serializer = self._serializers.get(keys)
        if serializer is None:
            serializer = super().get_signing_serializer(app)
            if len(self._serializers) > 8:  # keys changed often (tests): keep a few
                self._serializers.clear()
            self._serializers[keys] = serializer  # type: ignore[assignment]
        return serializer

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and not request.cookies.get(self.get_cookie_name(app)):
            return self.session_class()
        return super().open_session(app, request)
