"""Replies of complete pages of events, kept to answer the same request again.

A full page of the log or of a stream (one a next page follows) never changes: events are
appended at higher positions and versions, and none is rewritten. Its reply is the same for
every reader who sees personal data the same way (in clear, or masked), except in what the
privacy rules add at each showing: every showing of plaintext is logged, and a forget takes
effect at once. So an entry keeps, beside the encoded reply, the page's `Showing`: the
subjects whose plaintext it shows (logged again at every hit) and the key generation it was
decoded under (checked at every hit). And the whole cache is emptied whenever the process
drops keys, so no plaintext of a forgotten subject stays in it.

Bounded by the bytes of the replies it holds, least recently used out first.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from dataclasses import dataclass

from webapp.privacy import Showing

PAGES_KEY = "eventscope_pages"
"""The app extension holding the cache (None when pages are not kept)."""
DEFAULT_MEGABYTES = 16
MAX_MEGABYTES = 4096
LARGEST_SHARE = 4
"""A reply larger than a quarter of the cache is not kept: it would push out many others."""


@dataclass(frozen=True)
class CachedPage:
    body: bytes
    headers: tuple[tuple[str, str], ...]
    """Headers of the reply beyond those every reply gets (e.g. `Complete-To`)."""
    showing: Showing


class PageCache:
    """Encoded replies by request, at most `max_bytes` of them (0: keeps nothing)."""

    def __init__(self, max_bytes: int) -> None:
        if max_bytes < 0:
            msg = f"a page cache holds 0 bytes or more, not {max_bytes}"
            raise ValueError(msg)
        self.max_bytes = max_bytes
        self._entries: OrderedDict[Hashable, CachedPage] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0
        self.emptied = 0
        """How many times dropped keys emptied the cache."""

    def get(self, key: Hashable) -> CachedPage | None:
        with self._lock:
            page = self._entries.get(key)
            if page is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return page

    def put(self, key: Hashable, page: CachedPage) -> None:
        size = len(page.body)
        if size * LARGEST_SHARE > self.max_bytes:
            return
        with self._lock:
            old = self._entries.pop(key, None)
            if old is not None:
                self._bytes -= len(old.body)
            self._entries[key] = page
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, out = self._entries.popitem(last=False)
                self._bytes -= len(out.body)

    def discard(self, key: Hashable, page: CachedPage) -> None:
        """Drop `key` if it still holds `page` (a stale entry another thread may have renewed)."""
        with self._lock:
            if self._entries.get(key) is page:
                del self._entries[key]
                self._bytes -= len(page.body)

    def clear(self) -> None:
        """Let every page go (keys were dropped: a forget, here or seen from elsewhere)."""
        with self._lock:
            self._entries.clear()
            self._bytes = 0
            self.emptied += 1

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._entries)
