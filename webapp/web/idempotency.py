"""Idempotency keys: one submission of a command stores its events once.

A console form carries a one-time form id; an API client may send `"idempotency_key"`.
Either becomes the command's command_id, from which the router derives its event ids, so
the store (its unique event ids, in every process) refuses a second copy and the router
answers a repeat with the first dispatch's result.
"""

from __future__ import annotations

import re
import secrets

from webapp.web.errors import RequestRefused

KEY_PATTERN = re.compile(r"[A-Za-z0-9_-]{16,128}")
"""What a key may be: 16 to 128 letters, digits, '-' or '_' (a token_urlsafe is one)."""
REPLAYED_HEADER = "Idempotent-Replayed"
"""The API's reply header saying the reply is the first dispatch's, nothing new stored."""


def new_form_id() -> str:
    """A one-time id for a rendered command form (random, URL-safe, 22 characters)."""
    return secrets.token_urlsafe(16)


def checked_key(value: object, name: str = "idempotency_key") -> str:
    """`value` as an idempotency key, or a 400 naming `name` and what a key may be."""
    if not isinstance(value, str) or not KEY_PATTERN.fullmatch(value):
        msg = f"{name!r} must be 16 to 128 letters, digits, '-' or '_'"
        raise RequestRefused(400, msg, code="invalid_idempotency_key")
    return value
