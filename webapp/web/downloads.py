"""What the filtered pages hand to auditors: time filters read the same way everywhere, and
CSV downloads streamed page by page.

Cells that a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab, carriage
return first) get a leading `'`: actors, stream ids and reasons come from data.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

from flask import Response, abort, stream_with_context

FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def parse_time(name: str, text: str) -> datetime | None:
    """An ISO 8601 date or date-time (as from <input type=datetime-local>); naive means UTC.
    Anything else is a 400 that says what to write."""
    text = text.strip()
    if not text:
        return None
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        abort(
            400,
            description=f"The {name!r} filter {text[:40]!r} is not a date or time; "
            "use ISO 8601, e.g. 2024-03-01 or 2024-03-01T09:30.",
        )
    try:
        return value.astimezone(UTC) if value.tzinfo else value.replace(tzinfo=UTC)
    except OverflowError:  # e.g. 0001-01-01T00:00+14:00 is before the year 1 in UTC
        abort(400, description=f"The {name!r} filter {text[:40]!r} is out of range.")


def spreadsheet_safe(value: Any) -> str:
    """A cell's text: times in ISO 8601, and a leading `'` before what looks like a formula."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"'{text}" if FORMULA_START.match(text) else text


def csv_download(filename: str, columns: list[str], records: Iterable[Any]) -> Response:
    """A CSV attachment with one row per record (its `columns` attributes), written as the
    records are produced: the whole result never sits in memory."""

    def produce() -> Iterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\r\n")
        writer.writerow(columns)
        for record in records:
            writer.writerow([spreadsheet_safe(getattr(record, name)) for name in columns])
            if buffer.tell() > 64 * 1024:
                yield buffer.getvalue()
                buffer.seek(0)
                buffer.truncate()
        yield buffer.getvalue()

    response = Response(stream_with_context(produce()), mimetype="text/csv")
    response.headers["Content-Disposition"] = f'attachment; filename="{filename}"'
    response.headers["Cache-Control"] = "no-store"
    return response
