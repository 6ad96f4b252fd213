"""Secret key, CSRF tokens, the NUL check on every request and the security headers every
response carries."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from flask import Flask, Response, abort, g, request, session

from webapp.config import ConfigurationError
from webapp.database.files import make_private_folder

SECRET_KEY_FILE = "secret.key"  # noqa: S105 - a file name, not a secret
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRFToken"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})

CONTENT_SECURITY_POLICY = "; ".join(
    (
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'self'",
        "form-action 'self'",
        "frame-ancestors 'none'",
    )
)


def load_secret_key(configured: str | None, data_dir: Path) -> str:
    """The configured secret key, else the one in `data_dir/secret.key` (made 0600 if missing)."""
    if configured:
        return configured
    path = data_dir / SECRET_KEY_FILE
    make_private_folder(data_dir)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        key = path.read_text(encoding="ascii").strip()
        if len(key) < 32:
            msg = f"secret key file {path} is too short; delete it to generate a new one"
            raise ConfigurationError(msg) from None
        return key
    key = secrets.token_urlsafe(48)
    with os.fdopen(fd, "w", encoding="ascii") as handle:
        handle.write(key + "\n")
    return key


def csrf_token() -> str:
    """This session's CSRF token (created on first use); templates call it for forms."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return token


def check_csrf() -> None:
    """Refuse a state-changing request from a browser session without the session's token.

    Requests authenticated by a Bearer token carry no ambient credentials, so they
    are exempt.
    """
    if request.method not in UNSAFE_METHODS or g.get("auth_method") == "token":
        return
    expected = session.get("csrf")
    sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD)
    if not expected or not sent or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="CSRF token missing or invalid; reload the page and try again.")


def refuse_nul_characters() -> None:
    """Refuse a path, query-string or form value holding a NUL character, naming it.

    No field has a use for one, and PostgreSQL's text columns refuse them with an error
    that would otherwise surface as a 500 from whichever query met the value first.
    """
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and "\x00" in value:
            abort(400, description=f"The {name!r} in the address contains a NUL character.")
    for values in (request.args, request.form):
        for name, value in values.items(multi=True):
            if "\x00" in name or "\x00" in value:
                abort(400, description=f"The {name[:40]!r} value contains a NUL character.")


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    headers.setdefault("Content-Security-Policy", CONTENT_SECURITY_POLICY)
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Referrer-Policy", "same-origin")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    if request.endpoint != "static":
        headers.setdefault("Cache-Control", "no-store")
        response.vary.add("HX-Request")
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field_name"] = CSRF_FIELD
    app.after_request(add_security_headers)
