"""Which account an API token belongs to, remembered for a few seconds per process.

Looking the token up costs a read of two tables on every API request. The answer is kept
for `TOKEN_CACHE_SECONDS` at most, and only positive answers are kept (an unknown or
refused token is looked up again each time). The bound on staleness:

- a token revoked, or an account disabled or given another role, *in this process* is
  refused (or seen with its new role) from the next request on: every such change calls
  `forget_tokens()` once it has committed;
- the same change made by another process (another gunicorn worker, `eventscope token
  revoke`, `eventscope accounts disable`) is seen within `TOKEN_CACHE_SECONDS`;
- a token that expires is refused from its expiry on, cached or not.

A lookup that started before a change committed is never cached after it: each entry
carries the generation of changes it was read under and is dropped when they differ.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from webapp.web.account_records import Account

TOKEN_CACHE_SECONDS = 5.0
"""How long another process's revocation (or role change, or disabling) may go unseen here."""
MAX_ENTRIES = 10_000


@dataclass(frozen=True, slots=True)
class _Entry:
    account: Account
    token_expires_at: float | None
    cached_at: float
    cached_until: float
    generation: int


class TokenCache:
    """Token digest -> account, per process; thread-safe."""

    def __init__(self, seconds: float = TOKEN_CACHE_SECONDS) -> None:
        self.seconds = seconds
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._generation = 0
        self._lock = threading.Lock()

    def generation(self) -> int:
        """Take before a lookup; pass to `put` so that a change committed meanwhile wins."""
        return self._generation

    def get(self, database: str, digest: str) -> Account | None:
        """The cached account of the token, if still fresh, unexpired and not invalidated."""
        entry = self._entries.get((database, digest))
        if entry is None:
            return None
        now = time.time()
        if entry.generation != self._generation or not entry.cached_at <= now < entry.cached_until:
            return None  # a change since, too old, or the clock went back
        if entry.token_expires_at is not None and now >= entry.token_expires_at:
            return None
        return entry.account

    def put(
        self,
        database: str,
        digest: str,
        account: Account,
        token_expires_at: float | None,
        generation: int,
    ) -> None:
        """Remember a lookup made under `generation` (ignored if a change came since)."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._entries) >= MAX_ENTRIES:
                self._entries.clear()
            now = time.time()
            self._entries[(database, digest)] = _Entry(
                account, token_expires_at, now, now + self.seconds, generation
            )

    def forget_all(self) -> None:
        """Drop every entry: a token was revoked or an account changed in this process."""
        with self._lock:
            self._generation += 1
            self._entries.clear()


PROCESS_CACHE = TokenCache()


def forget_tokens() -> None:
    """Call after committing a change to who may use which token (revoke, disable, role)."""
    PROCESS_CACHE.forget_all()
