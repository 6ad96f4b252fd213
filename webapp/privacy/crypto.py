"""AES-GCM field encryption and data-key wrapping.

A personal field is stored as an envelope::

    {"$pii": {"v": 1, "s": "<subject id>", "n": "<base64 nonce>", "c": "<base64 ciphertext+tag>"}}

The plaintext is the field's JSON value; the associated data binds the
ciphertext to its event id, field name and subject id, so a ciphertext copied
into another event, field or subject fails to decrypt.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

_to_json = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode

ENVELOPE = "$pii"
FORMAT_VERSION = 1
KEY_BYTES = 32
NONCE_BYTES = 12


class DecryptionFailed(Exception):
    """The envelope is malformed, was tampered with, or belongs elsewhere."""


def new_key() -> bytes:
    return AESGCM.generate_key(bit_length=KEY_BYTES * 8)


def derive_key(master_key: bytes, purpose: str) -> bytes:
    """A sub-key of the master key for one purpose (HKDF-SHA256, purpose as info)."""
    return HKDF(
        algorithm=hashes.SHA256(), length=KEY_BYTES, salt=None, info=purpose.encode()
    ).derive(master_key)


def field_aad(event_id: str, field: str, subject_id: str) -> bytes:
    """Associated data: format, event id, field name, subject id (NUL-separated, subject last)."""
    return f"eventscope-pii\x00{FORMAT_VERSION}\x00{event_id}\x00{field}\x00{subject_id}".encode()


def is_envelope(value: object) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(ENVELOPE), dict)


def envelope_subject(value: dict[str, Any]) -> str | None:
    subject = value[ENVELOPE].get("s")
    return subject if isinstance(subject, str) else None


def envelope_epoch(value: dict[str, Any]) -> int:
    """The epoch of the subject's key the envelope was sealed under (1 unless re-registered)."""
    return value[ENVELOPE].get("k", 1)


def seal(key: bytes | AESGCM, value: Any, aad: bytes, subject_id: str) -> dict[str, Any]:
    """Encrypt a JSON value under a fresh 96-bit nonce (`key` raw or a ready AESGCM)."""
    nonce = os.urandom(NONCE_BYTES)
    plaintext = _to_json(value).encode()
    cipher = key if isinstance(key, AESGCM) else AESGCM(key)
    ciphertext = cipher.encrypt(nonce, plaintext, aad)
    return {
        ENVELOPE: {
            "v": FORMAT_VERSION,
            "s": subject_id,
            "n": binascii.b2a_base64(nonce, newline=False).decode(),
            "c": binascii.b2a_base64(ciphertext, newline=False).decode(),
        }
    }


def open_envelope(key: bytes | AESGCM, envelope: dict[str, Any], aad: bytes) -> Any:
    """Decrypt an envelope made by `seal`; raise DecryptionFailed with the reason otherwise."""
    body = envelope.get(ENVELOPE)
    if not isinstance(body, dict) or body.get("v") != FORMAT_VERSION:
        msg = "unknown envelope format"
        raise DecryptionFailed(msg)
    try:
        nonce = base64.b64decode(body["n"], validate=True)
        ciphertext = base64.b64decode(body["c"], validate=True)
    except (KeyError, TypeError, ValueError):
        msg = "malformed envelope"
        raise DecryptionFailed(msg) from None
    if len(nonce) != NONCE_BYTES:
        msg = "malformed nonce"
        raise DecryptionFailed(msg)
    try:
        cipher = key if isinstance(key, AESGCM) else AESGCM(key)
        plaintext = cipher.decrypt(nonce, ciphertext, aad)
    except InvalidTag:
        msg = "authentication failed (tampered, moved, or encrypted under another key)"
        raise DecryptionFailed(msg) from None
    try:
        return json.loads(plaintext)
    except ValueError:
        msg = "decrypted value is not JSON"
        raise DecryptionFailed(msg) from None


def wrap(kek: bytes, key: bytes, label: str) -> bytes:
    """Wrap a data key under the key-encryption key, binding `label` (the subject id) as AAD."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(kek).encrypt(nonce, key, b"eventscope-wrap:" + label.encode())


def unwrap(kek: bytes, wrapped: bytes, label: str) -> bytes:
    try:
        return AESGCM(kek).decrypt(
            wrapped[:NONCE_BYTES], wrapped[NONCE_BYTES:], b"eventscope-wrap:" + label.encode()
        )
    except InvalidTag:
        msg = f"cannot unwrap key {label!r} (wrong master key or tampered key store)"
        raise DecryptionFailed(msg) from None
