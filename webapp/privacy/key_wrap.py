"""Data keys wrapped under the master key: the key check at start-up, and re-wrapping on rotation.

Each data key is stored encrypted ("wrapped") under a key-encryption key derived from
the master key. The key store also keeps a check value and the blind index's key wrapped
the same way, so a wrong master key is refused when the key store opens, not at the
first read.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from webapp.database import reading
from webapp.privacy import crypto
from webapp.privacy.errors import MasterKeyError
from webapp.privacy.tables import insert_for, meta, subjects

KEY_CHECK_PLAINTEXT = b"eventscope key store"
WRAP_PURPOSE = "eventscope key-wrap v1"


class KeyWrap:
    """The key-encryption key derived from one master key."""

    def __init__(self, master_key: bytes) -> None:
        self._kek = crypto.derive_key(master_key, WRAP_PURPOSE)

    def wrap(self, key: bytes, label: str) -> bytes:
        return crypto.wrap(self._kek, key, label)

    def unwrap(self, wrapped: bytes, label: str) -> bytes:
        """The key; crypto.DecryptionFailed when it was wrapped under another master key."""
        return crypto.unwrap(self._kek, wrapped, label)

    def __repr__(self) -> str:  # never print key bytes
        return "KeyWrap()"


def check_master_key(engine: Engine, wrap: KeyWrap) -> bytes:
    """Verify the master key against the stored check value (creating it for a new key store);
    returns the blind index's key. MasterKeyError for another master key."""
    with engine.begin() as conn:
        rows = {r.name: r.value for r in conn.execute(sa.select(meta.c.name, meta.c.value))}
        if "key_check" not in rows:
            rows = {
                "key_check": wrap.wrap(KEY_CHECK_PLAINTEXT, "key-check"),
                "index_key": wrap.wrap(crypto.new_key(), "blind-index"),
            }
            insert = insert_for(conn)
            conn.execute(
                insert(meta).on_conflict_do_nothing(),
                [{"name": k, "value": v} for k, v in rows.items()],
            )
            rows = {r.name: r.value for r in conn.execute(sa.select(meta.c.name, meta.c.value))}
    try:
        wrap.unwrap(rows["key_check"], "key-check")
        return wrap.unwrap(rows["index_key"], "blind-index")
    except crypto.DecryptionFailed:
        msg = (
            "the master key does not match this key store (it was created with another "
            "master key); check EVENTSCOPE_MASTER_KEY / the master key file"
        )
        raise MasterKeyError(msg) from None


def rewrap_keys(engine: Engine, old: KeyWrap, new: KeyWrap, index_key: bytes) -> int:
    """Re-wrap every data key, the index key and the key check under `new`, in one
    transaction; returns how many data keys."""
    count = 0
    with engine.begin() as conn:
        rows = conn.execute(
            sa.select(subjects.c.subject_id, subjects.c.wrapped_key).where(
                subjects.c.wrapped_key.is_not(None)
            )
        ).all()
        for subject_id, wrapped in rows:
            key = old.unwrap(wrapped, subject_id)
            conn.execute(
                sa.update(subjects)
                .where(subjects.c.subject_id == subject_id)
                .values(wrapped_key=new.wrap(key, subject_id))
            )
            count += 1
        for name, value in (
            ("key_check", new.wrap(KEY_CHECK_PLAINTEXT, "key-check")),
            ("index_key", new.wrap(index_key, "blind-index")),
        ):
            conn.execute(sa.update(meta).where(meta.c.name == name).values(value=value))
    return count


def has_key_check(engine: Engine) -> bool:
    """The key store has been opened with a master key before."""
    with reading(engine) as conn:
        return (
            conn.execute(sa.select(meta.c.name).where(meta.c.name == "key_check")).first()
            is not None
        )
