"""CSV downloads for auditors, streamed page by page.

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

from flask import Response, stream_with_context

FORMULA_START = re.compile(r"^[=+\-@\t\r]")


def spreadsheet_safe(value: Any) -> str:
    """A cell's text: times in ISO 8601, and a leading `'` before what looks like a formula."""
    if value is None:
        return ""
    text = value.isoformat() if isinstance(value, datetime) else str(value)
    return f"'{text}" if FORMULA_START.match(text) else text


def csv_download(name: str, columns: list[str], records: Iterable[Any]) -> Response:
    """A CSV attachment `<name>-<UTC time>.csv` with one row per record (its `columns`
    attributes), written as the records are produced: the whole result never sits in memory."""
    filename = f"{name}-{datetime.now(UTC).strftime('%Y%m%dT%H%M%SZ')}.csv"

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
