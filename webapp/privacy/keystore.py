"""One data key per subject, stored wrapped by the master key.

Keys are created on first use, cached for a bounded time, and shredded on
forget: the subject's row keeps only the fact, time and reason of the forget
(no key bytes), so a forgotten subject never silently receives a new key.

Every forget (and re-registration) also writes a fresh random "forget mark" in
the same transaction. Each process compares the mark with the one it last saw
at most once per `check_seconds` while it uses cached keys, and drops its whole
cache when it changed: a forget run by another process stops this one from
decrypting within about a second, not at the end of the cache lifetime.
"""

from __future__ import annotations

import functools
import os
import threading
import time
from dataclasses import dataclass
from typing import NamedTuple

import sqlalchemy as sa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Connection, Engine

from webapp.database import reading
from webapp.privacy import crypto
from webapp.privacy.errors import MasterKeyError, SubjectForgottenError
from webapp.privacy.tables import insert_for, meta, subject_lookup, subject_streams, subjects

KEY_CHECK_PLAINTEXT = b"eventscope key store"
WRAP_PURPOSE = "eventscope key-wrap v1"
FORGET_MARK = "forget_mark"


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
        self._kek = crypto.derive_key(master_key, WRAP_PURPOSE)
        self.cache_seconds = cache_seconds
        self.cache_size = cache_size
        self.check_seconds = check_seconds
        self._cache: dict[str, tuple[SubjectKey, float]] = {}
        self._lock = threading.Lock()
        self._known_links: set[tuple[str, str]] = set()
        self._known_lookups: set[tuple[str, str]] = set()
        self.index_key = self._check_master_key()
        self._forget_mark = self._read_forget_mark()
        self._mark_checked_at = time.monotonic()
        self.changes_seen = 0
        """How many times a new forget mark was found (see `changed_elsewhere`)."""

    # --- start-up ---------------------------------------------------------

    def is_initialised(self) -> bool:
        return has_key_check(self.engine)

    def _check_master_key(self) -> bytes:
        """Verify the master key against the stored check value (creating it for a new store)."""
        with self.engine.begin() as conn:
            rows = {r.name: r.value for r in conn.execute(sa.select(meta.c.name, meta.c.value))}
            if "key_check" not in rows:
                index_key = crypto.new_key()
                rows = {
                    "key_check": crypto.wrap(self._kek, KEY_CHECK_PLAINTEXT, "key-check"),
                    "index_key": crypto.wrap(self._kek, index_key, "blind-index"),
                }
                insert = insert_for(conn)
                conn.execute(
                    insert(meta).on_conflict_do_nothing(),
                    [{"name": k, "value": v} for k, v in rows.items()],
                )
                rows = {r.name: r.value for r in conn.execute(sa.select(meta.c.name, meta.c.value))}
        try:
            crypto.unwrap(self._kek, rows["key_check"], "key-check")
            return crypto.unwrap(self._kek, rows["index_key"], "blind-index")
        except crypto.DecryptionFailed:
            msg = (
                "the master key does not match this key store (it was created with another "
                "master key); check EVENTSCOPE_MASTER_KEY / the master key file"
            )
            raise MasterKeyError(msg) from None

    # --- keys -------------------------------------------------------------

    def key_for_writing(self, subject_id: str) -> SubjectKey:
        """The subject's key, created on first use; SubjectForgottenError once forgotten."""
        record = self._cached(subject_id)
        if record is None or record.key is None:
            record = self._load(subject_id, create=True)
        if record.key is None:
            raise SubjectForgottenError(subject_id)
        return record

    def key_for_reading(self, subject_id: str) -> SubjectKey | None:
        """The subject's key record (key None once forgotten), or None for an unknown subject."""
        record = self._cached(subject_id)
        if record is None:
            record = self._load(subject_id, create=False)
        return record

    def subject(self, subject_id: str) -> SubjectKey | None:
        """The subject's record straight from the database (not the cache)."""
        return self._load(subject_id, create=False)

    def _cached(self, subject_id: str) -> SubjectKey | None:
        if time.monotonic() - self._mark_checked_at >= self.check_seconds:
            self.changed_elsewhere()
        with self._lock:
            entry = self._cache.get(subject_id)
            if entry is None:
                return None
            if entry[1] < time.monotonic():
                del self._cache[subject_id]
                return None
            return entry[0]

    def _remember(self, record: SubjectKey) -> None:
        with self._lock:
            if len(self._cache) >= self.cache_size:
                now = time.monotonic()
                for sid in [s for s, (_, exp) in self._cache.items() if exp < now]:
                    del self._cache[sid]
                if len(self._cache) >= self.cache_size:
                    self._cache.pop(next(iter(self._cache)))
            self._cache[record.subject_id] = (record, time.monotonic() + self.cache_seconds)

    def changed_elsewhere(self) -> bool:
        """True (and the key cache dropped) if a forget was committed since the last check."""
        self._mark_checked_at = time.monotonic()
        mark = self._read_forget_mark()
        if mark == self._forget_mark:
            return False
        self._forget_mark = mark
        self.changes_seen += 1
        self.evict()
        return True

    def _read_forget_mark(self) -> bytes | None:
        with reading(self.engine) as conn:
            return conn.execute(
                sa.select(meta.c.value).where(meta.c.name == FORGET_MARK)
            ).scalar_one_or_none()

    def _write_forget_mark(self, conn: Connection) -> None:
        """A new random mark, in the forget's own transaction. This process keeps the
        old one, so its next check also catches a forget committed just before this one."""
        insert = insert_for(conn)
        mark = os.urandom(16)
        conn.execute(
            insert(meta)
            .values(name=FORGET_MARK, value=mark)
            .on_conflict_do_update(index_elements=["name"], set_={"value": mark})
        )

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
        with self._lock:
            if subject_id is None:
                self._cache.clear()
                self._known_links.clear()
                self._known_lookups.clear()
                return
            self._cache.pop(subject_id, None)
            self._known_links = {x for x in self._known_links if x[0] != subject_id}
            self._known_lookups = {x for x in self._known_lookups if x[1] != subject_id}

    def _load(self, subject_id: str, *, create: bool) -> SubjectKey | None:
        if create:
            with self.engine.begin() as conn:
                row = self._select(conn, subject_id)
                if row is None:
                    wrapped = crypto.wrap(self._kek, crypto.new_key(), subject_id)
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
        self._remember(record)
        return record

    def _select(self, conn: Connection, subject_id: str):  # noqa: ANN202 - Row
        return conn.execute(sa.select(subjects).where(subjects.c.subject_id == subject_id)).first()

    def _record(self, row) -> SubjectKey:  # noqa: ANN001 - Row
        key = None
        if row.wrapped_key is not None:
            try:
                key = crypto.unwrap(self._kek, row.wrapped_key, row.subject_id)
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
        known_links, known_lookups = self._known_links, self._known_lookups
        links = {(subject_id, s) for s in stream_ids if (subject_id, s) not in known_links}
        hmacs = {(h, subject_id) for h in lookups if (h, subject_id) not in known_lookups}
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
        with self._lock:
            self._known_links |= links
            self._known_lookups |= hmacs

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
            self._write_forget_mark(conn)
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
                    wrapped_key=crypto.wrap(self._kek, crypto.new_key(), subject_id),
                    key_epoch=row.key_epoch + 1,
                    forgotten_at=None,
                    forgotten_reason=None,
                    forgotten_by=None,
                )
            )
            self._write_forget_mark(conn)
            record = self._record(self._select(conn, subject_id))
        self.evict(subject_id)
        return record

    def rotate_master_key(self, new_master_key: bytes) -> int:
        """Re-wrap every data key (and the index key) under a new master key; events untouched."""
        new_kek = crypto.derive_key(new_master_key, WRAP_PURPOSE)
        count = 0
        with self.engine.begin() as conn:
            rows = conn.execute(
                sa.select(subjects.c.subject_id, subjects.c.wrapped_key).where(
                    subjects.c.wrapped_key.is_not(None)
                )
            ).all()
            for subject_id, wrapped in rows:
                key = crypto.unwrap(self._kek, wrapped, subject_id)
                conn.execute(
                    sa.update(subjects)
                    .where(subjects.c.subject_id == subject_id)
                    .values(wrapped_key=crypto.wrap(new_kek, key, subject_id))
                )
                count += 1
            for name, value in (
                ("key_check", crypto.wrap(new_kek, KEY_CHECK_PLAINTEXT, "key-check")),
                ("index_key", crypto.wrap(new_kek, self.index_key, "blind-index")),
            ):
                conn.execute(sa.update(meta).where(meta.c.name == name).values(value=value))
        self._kek = new_kek
        self.evict()
        return count

    def count_keys(self) -> int:
        with reading(self.engine) as conn:
            return conn.execute(
                sa.select(sa.func.count()).where(subjects.c.wrapped_key.is_not(None))
            ).scalar_one()


def has_key_check(engine: Engine) -> bool:
    with reading(engine) as conn:
        return (
            conn.execute(sa.select(meta.c.name).where(meta.c.name == "key_check")).first()
            is not None
        )
