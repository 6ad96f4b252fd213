"""Decoding the `eventsourcing` library's stored `state`: decrypt, decompress, JSON, unwrap.

The library's pipeline is JSON -> compress (optional) -> encrypt (optional); this runs it
backwards. A payload that cannot be read becomes a marker, never an exception:

>>> PayloadDecoder().decode(b'{"a":{"_type_":"decimal_str","_data_":"1.50"}}').state
{'a': '1.50'}
"""

from __future__ import annotations

import base64
import binascii
import bz2
import json
import uuid
import zlib
from dataclasses import dataclass
from typing import Any, Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE_END: Final = 12
TAG_END: Final = 28
"""AESCipher's layout: nonce bytes 0..11, GCM tag 12..27, then the ciphertext."""

COMPRESSORS: Final = ("zlib", "bz2")
_REASON_LENGTH: Final = 160


@dataclass(frozen=True, slots=True)
class Decoded:
    """A decoded state (wrappers unwrapped), or the marker shown instead of it."""

    state: dict[str, Any] | None
    marker: dict[str, Any] | None = None


class _Undecodable(Exception):
    """A payload that is not what the library writes (the message is the reason)."""


def one_line(exc: BaseException) -> str:
    """An exception as a short single line: its type and message."""
    text = " ".join(f"{type(exc).__name__}: {exc}".split())
    return text[:_REASON_LENGTH]


def compressor_name(compressor: str | None) -> str | None:
    """`zlib`, `bz2` or None from a name or the library's topic (`...:ZlibCompressor`)."""
    if compressor is None:
        return None
    lowered = compressor.lower()
    for name in COMPRESSORS:
        if name in lowered:
            return name
    msg = f"unknown compressor {compressor!r}: expected zlib or bz2 (or the library's topic)"
    raise ValueError(msg)


def cipher_key_bytes(cipher_key: str | None) -> bytes | None:
    """The AES key from the library's base64 `CIPHER_KEY` (16, 24 or 32 bytes)."""
    if cipher_key is None:
        return None
    try:
        key = base64.b64decode(cipher_key.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as exc:
        msg = "the cipher key is not base64"
        raise ValueError(msg) from exc
    if len(key) not in (16, 24, 32):
        msg = f"the cipher key has {len(key)} bytes; AES takes 16, 24 or 32"
        raise ValueError(msg)
    return key


def _looks_zlib(data: bytes) -> bool:
    return len(data) >= 2 and data[0] & 0x0F == 8 and (data[0] << 8 | data[1]) % 31 == 0


def _detected_compressor(data: bytes) -> str | None:
    if data.startswith(b"BZh"):
        return "bz2"
    if _looks_zlib(data):
        return "zlib"
    return None


def _decompresses(data: bytes) -> bool:
    try:
        zlib.decompress(data) if _looks_zlib(data) else bz2.decompress(data)
    except (zlib.error, OSError, ValueError, EOFError):
        return False
    return True


def _looks_encrypted(data: bytes) -> bool:
    """Long enough for nonce and tag, not text, not compressed data: most likely ciphertext
    (random bytes look like a zlib header one time in ~500, so that alone says nothing)."""
    if len(data) < TAG_END:
        return False
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return _detected_compressor(data) is None or not _decompresses(data)
    return False


def unwrap(value: Any) -> Any:
    """The library's `{"_type_", "_data_"}` wrappers as plain JSON values (unknown ones kept)."""
    if isinstance(value, list):
        return [unwrap(item) for item in value]
    if not isinstance(value, dict):
        return value
    if value.keys() == {"_type_", "_data_"}:
        kind, data = value["_type_"], value["_data_"]
        if kind == "uuid_hex" and isinstance(data, str):
            try:
                return str(uuid.UUID(hex=data))
            except ValueError:
                return value
        if kind in ("decimal_str", "datetime_iso") and isinstance(data, str):
            return data
        return value
    return {key: unwrap(item) for key, item in value.items()}


class PayloadDecoder:
    """Turns stored `state` bytes into a dict, with an optional key and compressor."""

    def __init__(self, *, cipher_key: str | None = None, compressor: str | None = None) -> None:
        self._key = cipher_key_bytes(cipher_key)
        self._compressor = compressor_name(compressor)

    @property
    def has_key(self) -> bool:
        return self._key is not None

    def decode(self, blob: bytes | str | None) -> Decoded:
        """The state of one stored row, or a marker saying why it cannot be shown."""
        if blob is None:
            return Decoded(None, {"undecodable": "the payload is NULL"})
        data = blob.encode("utf-8") if isinstance(blob, str) else bytes(blob)
        try:
            return Decoded(self._plain(data))
        except _Undecodable as exc:
            plain_failure = str(exc)
        if self._key is None:
            if _looks_encrypted(data):
                return Decoded(None, {"encrypted": True, "bytes": len(data)})
            return Decoded(None, {"undecodable": plain_failure})
        if len(data) < TAG_END:
            return Decoded(None, {"undecodable": plain_failure})
        nonce, tag, ciphertext = data[:NONCE_END], data[NONCE_END:TAG_END], data[TAG_END:]
        try:
            clear = AESGCM(self._key).decrypt(nonce, ciphertext + tag, None)
        except InvalidTag:
            return Decoded(None, {"encrypted": True, "bytes": len(data)})
        try:
            return Decoded(self._plain(clear))
        except _Undecodable as exc:
            return Decoded(None, {"undecodable": f"decrypted, then {exc}"})

    def _plain(self, data: bytes) -> dict[str, Any]:
        name = self._compressor or _detected_compressor(data)
        if name is not None and not data.lstrip().startswith(b"{"):
            try:
                data = zlib.decompress(data) if name == "zlib" else bz2.decompress(data)
            except (zlib.error, OSError, ValueError, EOFError) as exc:
                raise _Undecodable(f"not {name} data ({one_line(exc)})") from exc
        try:
            state = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError) as exc:
            raise _Undecodable(f"not JSON ({one_line(exc)})") from exc
        if not isinstance(state, dict):
            msg = f"the JSON is a {type(state).__name__}, not an object"
            raise _Undecodable(msg)
        return unwrap(state)
