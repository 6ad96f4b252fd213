"""One data key per subject, stored wrapped by the master key.

Keys are created on first use, cached for a bounded time (see `key_cache`), and shredded
on forget: the subject's row keeps only the fact, time and reason of the forget (no key
bytes), so a forgotten subject never silently receives a new key. The key store also
records which streams hold a subject's data and which blind-index lookups find them.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection, Engine

from webapp.database import reading
from webapp.privacy import crypto
from webapp.privacy.errors import MasterKeyError, SubjectForgottenError
from webapp.privacy.key_cache import KeyCache, write_forget_mark
from webapp.privacy.key_wrap import KeyWrap, check_master_key, has_key_check, rewrap_keys
from webapp.privacy.tables import insert_for, subject_lookup, subject_streams, subjects


@dataclass(frozen=True, eq=False)
class SubjectKey:
    """A subject's key (None once forgotten) and the facts of their forget."""

    subject_id: str
    key: bytes | None
    epoch: int
    created_at: float
    forgotten_at: float | None = None
    forgotten_reason: str | None = None
    forgotten_by: str | None = None

    @property
    def forgotten(self) -> bool:
        return self.forgotten_at is not None

    @functools.cached_property
    def cipher(self) -> AESGCM:
        """The subject's AES-GCM cipher (built once per cached record)."""
        if self.key is None:
            raise SubjectForgottenError(self.subject_id)
        return AESGCM(self.key)

    @functools.cached_property
    def opened(self) -> dict[tuple[bytes, str, str], object]:
        """Plain values this record has already decrypted, by (AAD, nonce, ciphertext).

        They live exactly as long as the record: a forget (here, or seen from another
        process through the forget mark) or the cache's expiry drops the record and its
        plaintexts with it, so nothing opens after the key is gone."""
        return {}

    def __repr__(self) -> str:  # never print key bytes
        return f"SubjectKey({self.subject_id!r}, epoch={self.epoch}, forgotten={self.forgotten})"


class Shredded(NamedTuple):
    """What `KeyStore.shred` did."""

    newly: bool
    """This call forgot the subject (False: they had been forgotten before)."""
    had_key: bool
    """The subject ever had a data key (False: the id was unknown until this forget)."""
    record: SubjectKey


class KeyStore:
    """Subject data keys wrapped under a key-encryption key derived from the master key."""

    def __init__(
        self,
        engine: Engine,
        master_key: bytes,
        *,
        cache_seconds: float = 60.0,
        cache_size: int = 10_000,
        check_seconds: float = 1.0,
    ) -> None:
        self.engine = engine
        self._wrap = KeyWrap(master_key)
        self.index_key = check_master_key(engine, self._wrap)
        self.cache = KeyCache(
            engine, seconds=cache_seconds, size=cache_size, check_seconds=check_seconds
        )

    def is_initialised(self) -> bool:
        return has_key_check(self.engine)

    # --- keys -------------------------------------------------------------

    def key_for_writing(self, subject_id: str) -> SubjectKey:
        """The subject's key, created on first use; SubjectForgottenError once forgotten."""
        record = self.cache.get(subject_id)
        if record is None or record.key is None:
            record = self._load(subject_id, create=True)
        if record.key is None:
            raise SubjectForgottenError(subject_id)
        return record

    def key_for_reading(self, subject_id: str) -> SubjectKey | None:
        """The subject's key record (key None once forgotten), or None for an unknown subject."""
        record = self.cache.get(subject_id)
        if record is None:
            record = self._load(subject_id, create=False)
        return record

    def subject(self, subject_id: str) -> SubjectKey | None:
        """The subject's record straight from the database (not the cache)."""
        return self._load(subject_id, create=False)

    def changed_elsewhere(self) -> bool:
        """True (and the key cache dropped) if a forget was committed since the last check."""
        return self.cache.changed_elsewhere()

    def generation(self) -> int:
        """The key cache's generation: every forget seen by this process, here or (looked
        for at most once per check interval) elsewhere, moves it on."""
        return self.cache.current_generation()

    def when_dropped(self, listener: Callable[[], None]) -> None:
        """Call `listener` whenever cached keys are dropped (a forget, a re-registration)."""
        self.cache.when_dropped(listener)

    @property
    def changes_seen(self) -> int:
        """How many times a forget committed elsewhere was noticed."""
        return self.cache.changes_seen

    def forgotten_among(self, subject_ids: set[str]) -> set[str]:
        """Which of `subject_ids` are forgotten (read from the database, not the cache)."""
        found: set[str] = set()
        ids = sorted(subject_ids)
        with reading(self.engine) as conn:
            for start in range(0, len(ids), 500):
                found.update(
                    conn.execute(
                        sa.select(subjects.c.subject_id).where(
                            subjects.c.subject_id.in_(ids[start : start + 500]),
                            subjects.c.forgotten_at.is_not(None),
                        )
                    ).scalars()
                )
        return found

    def evict(self, subject_id: str | None = None) -> None:
        """Drop a subject's cached key (or every cached key)."""
        self.cache.drop(subject_id)

    def _load(self, subject_id: str, *, create: bool) -> SubjectKey | None:
        if create:
            with self.engine.begin() as conn:
                row = self._select(conn, subject_id)
                if row is None:
                    wrapped = self._wrap.wrap(crypto.new_key(), subject_id)
                    insert = insert_for(conn)
                    conn.execute(
                        insert(subjects)
                        .values(
                            subject_id=subject_id,
                            wrapped_key=wrapped,
                            key_epoch=1,
                            created_at=time.time(),
                        )
                        .on_conflict_do_nothing(index_elements=["subject_id"])
                    )
                    row = self._select(conn, subject_id)
        else:
            with reading(self.engine) as conn:
                row = self._select(conn, subject_id)
        if row is None:
            return None
        record = self._record(row)
        self.cache.put(record)
        return record

    def _select(self, conn: Connection, subject_id: str):  # noqa: ANN202 - Row
        return conn.execute(sa.select(subjects).where(subjects.c.subject_id == subject_id)).first()

    def _record(self, row) -> SubjectKey:  # noqa: ANN001 - Row
        key = None
        if row.wrapped_key is not None:
            try:
                key = self._wrap.unwrap(row.wrapped_key, row.subject_id)
            except crypto.DecryptionFailed as exc:
                raise MasterKeyError(str(exc)) from None
        return SubjectKey(
            subject_id=row.subject_id,
            key=key,
            epoch=row.key_epoch,
            created_at=row.created_at,
            forgotten_at=row.forgotten_at,
            forgotten_reason=row.forgotten_reason,
            forgotten_by=row.forgotten_by,
        )

    # --- what the store holds on a subject ------------------------------------

    def note(
        self, subject_id: str, *, stream_ids: tuple[str, ...] = (), lookups: tuple[str, ...] = ()
    ) -> None:
        """Record that `stream_ids` hold the subject's data and `lookups` (HMACs) find them.

        Written only for pairs this process has not recorded yet, and refused for a
        forgotten subject (the same transaction checks it).
        """
        links, hmacs = self.cache.unwritten(subject_id, stream_ids, lookups)
        if not links and not hmacs:
            return
        with self.engine.begin() as conn:
            query = sa.select(subjects.c.forgotten_at).where(subjects.c.subject_id == subject_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            forgotten_at = conn.execute(query).scalar_one_or_none()
            if forgotten_at is not None:
                raise SubjectForgottenError(subject_id)
            insert = insert_for(conn)
            if links:
                conn.execute(
                    insert(subject_streams).on_conflict_do_nothing(),
                    [{"subject_id": s, "stream_id": st} for s, st in links],
                )
            if hmacs:
                conn.execute(
                    insert(subject_lookup).on_conflict_do_nothing(),
                    [{"hmac": h, "subject_id": s} for h, s in hmacs],
                )
        self.cache.written(links, hmacs)

    def streams_of(self, subject_id: str) -> list[str]:
        with reading(self.engine) as conn:
            return list(
                conn.execute(
                    sa.select(subject_streams.c.stream_id)
                    .where(subject_streams.c.subject_id == subject_id)
                    .order_by(subject_streams.c.stream_id)
                ).scalars()
            )

    def subjects_for_lookup(self, hmac: str) -> list[str]:
        with reading(self.engine) as conn:
            return list(
                conn.execute(
                    sa.select(subject_lookup.c.subject_id)
                    .where(subject_lookup.c.hmac == hmac)
                    .order_by(subject_lookup.c.subject_id)
                ).scalars()
            )

    # --- forget, re-register, rotate --------------------------------------------

    def shred(self, subject_id: str, *, reason: str, actor: str) -> Shredded:
        """Delete the subject's key and lookups.

        The stream links stay until `drop_streams`, so an interrupted forget can be rerun.
        """
        now = time.time()
        with self.engine.begin() as conn:
            query = sa.select(subjects).where(subjects.c.subject_id == subject_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            first_time = row is None or row.forgotten_at is None
            # a record a forget wrote for an unknown id was created and forgotten at once
            had_key = row is not None and (
                row.wrapped_key is not None or row.created_at != row.forgotten_at
            )
            if row is None:
                conn.execute(
                    sa.insert(subjects).values(
                        subject_id=subject_id,
                        wrapped_key=None,
                        key_epoch=1,
                        created_at=now,
                        forgotten_at=now,
                        forgotten_reason=reason,
                        forgotten_by=actor,
                    )
                )
            elif first_time or row.wrapped_key is not None:
                conn.execute(
                    sa.update(subjects)
                    .where(subjects.c.subject_id == subject_id)
                    .values(
                        wrapped_key=None,
                        forgotten_at=row.forgotten_at or now,
                        forgotten_reason=row.forgotten_reason if not first_time else reason,
                        forgotten_by=row.forgotten_by if not first_time else actor,
                    )
                )
            conn.execute(sa.delete(subject_lookup).where(subject_lookup.c.subject_id == subject_id))
            write_forget_mark(conn)
            after = self._record(self._select(conn, subject_id))
        self.evict(subject_id)
        return Shredded(first_time, had_key, after)

    def drop_streams(self, subject_id: str) -> None:
        """Forget which streams held the subject's data (the last step of a forget)."""
        with self.engine.begin() as conn:
            conn.execute(
                sa.delete(subject_streams).where(subject_streams.c.subject_id == subject_id)
            )

    def reregister(self, subject_id: str) -> SubjectKey:
        """Give a forgotten subject a fresh key (a new epoch); their old data stays forgotten."""
        with self.engine.begin() as conn:
            query = sa.select(subjects).where(subjects.c.subject_id == subject_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            row = conn.execute(query).first()
            if row is None or row.forgotten_at is None:
                msg = f"subject {subject_id!r} is not forgotten; nothing to re-register"
                raise ValueError(msg)
            conn.execute(
                sa.update(subjects)
                .where(subjects.c.subject_id == subject_id)
                .values(
                    wrapped_key=self._wrap.wrap(crypto.new_key(), subject_id),
                    key_epoch=row.key_epoch + 1,
                    forgotten_at=None,
                    forgotten_reason=None,
                    forgotten_by=None,
                )
            )
            write_forget_mark(conn)
            record = self._record(self._select(conn, subject_id))
        self.evict(subject_id)
        return record

    def rotate_master_key(self, new_master_key: bytes) -> int:
        """Re-wrap every data key (and the index key) under a new master key; events untouched."""
        new_wrap = KeyWrap(new_master_key)
        count = rewrap_keys(self.engine, self._wrap, new_wrap, self.index_key)
        self._wrap = new_wrap
        self.evict()
        return count

    def count_keys(self) -> int:
        with reading(self.engine) as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(subjects.c.wrapped_key.is_not(None))
            ).scalar_one()
