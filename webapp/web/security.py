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


FORM_TYPES = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})
"""The bodies `request.form` reads; any other request has an empty form (not parsed)."""


def refuse_nul_characters() -> None:
    """Refuse a path, query-string or form value holding a NUL character, naming it.

    No field has a use for one, and PostgreSQL's text columns refuse them with an error
    that would otherwise surface as a 500 from whichever query met the value first.
    """
    for name, value in (request.view_args or {}).items():
        if isinstance(value, str) and "\x00" in value:
            abort(400, description=f"The {name!r} in the address contains a NUL character.")
    sources = (request.args, request.form) if request.mimetype in FORM_TYPES else (request.args,)
    for values in sources:
        for name, value in values.items(multi=True):
            if "\x00" in name or "\x00" in value:
                abort(400, description=f"The {name[:40]!r} value contains a NUL character.")


SECURITY_HEADERS = (
    ("Content-Security-Policy", CONTENT_SECURITY_POLICY),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "same-origin"),
    ("Cross-Origin-Opener-Policy", "same-origin"),
)
"""Set on every response that did not set its own."""


def add_security_headers(response: Response) -> Response:
    headers = response.headers
    present = {name.lower() for name, _ in headers.items()}  # one pass, not one per header
    for name, value in SECURITY_HEADERS:
        if name.lower() not in present:
            headers.add(name, value)
    if request.endpoint != "static":
        if "cache-control" not in present:
            headers.add("Cache-Control", "no-store")
        if "vary" not in present:  # the common case, without parsing a header set
            headers.add("Vary", "HX-Request")
        else:
            response.vary.add("HX-Request")
    return response


def init_app(app: Flask) -> None:
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["csrf_field_name"] = CSRF_FIELD
    app.after_request(add_security_headers)
