"""Find a subject by e-mail without storing the e-mail: a keyed HMAC of its normalised form."""

from __future__ import annotations

import hmac
import unicodedata


def normalise_email(email: str) -> str:
    """Case-folded, trimmed, NFKC-normalised e-mail (so lookups ignore case and spacing)."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


def is_lookup_field(field: str, declared: tuple[str, ...] = ()) -> bool:
    """Fields named `email` or `*_email` (or declared in `__blind_index__`) feed the blind index."""
    return field in declared or field == "email" or field.endswith("_email")


class BlindIndex:
    """HMAC-SHA256 under an index key that is separate from every data key."""

    def __init__(self, key: bytes) -> None:
        self._key = key

    def token(self, email: str) -> str:
        return hmac.digest(self._key, normalise_email(email).encode(), "sha256").hex()

    def __repr__(self) -> str:
        return "BlindIndex(<key hidden>)"
