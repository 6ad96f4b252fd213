"""Waiting for new events in Commanded's EventStore: LISTEN on `<schema>.events`, or polling."""

from __future__ import annotations

import time
from typing import Any

from webapp.sources.commanded.schema import (
    POLL_SECONDS,
    EventStoreTables,
)


class LiveReads(EventStoreTables):
    """Blocks until the head moves past a position."""

    def wait_for_events(self, after: int, timeout: float) -> int:
        """The head once it is above `after` or `timeout` seconds passed: LISTEN on
        `<schema>.events` (the store's notify trigger); polling where the driver has no
        LISTEN."""
        deadline = time.monotonic() + max(0.0, timeout)
        head = self.head_position()
        if head > after or timeout <= 0:
            return head
        raw = self.engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            if not hasattr(driver, "notifies"):
                return self._poll(after, deadline)
            driver.autocommit = True
            quote = self.engine.dialect.identifier_preparer.quote_identifier
            driver.execute(f"LISTEN {quote(self.channel)}")
            try:
                head = self.head_position()
                while head <= after:
                    remaining = deadline - time.monotonic()
                    if remaining <= 0:
                        break
                    try:
                        waiting = driver.notifies(timeout=remaining, stop_after=1)
                    except TypeError:  # psycopg before 3.2 cannot wait with a timeout
                        return self._poll(after, deadline)
                    for _ in waiting:
                        pass
                    head = self.head_position()
            finally:
                driver.execute("UNLISTEN *")
                driver.autocommit = False
        finally:
            raw.close()
        return head

    def _poll(self, after: int, deadline: float) -> int:
        head = self.head_position()
        while head <= after and time.monotonic() < deadline:
            time.sleep(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            head = self.head_position()
        return head
