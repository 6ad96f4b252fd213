"""Reports: every row of a read model as it stood at one moment, as CSV.

    report = open_report(parts, "accounts", position=1234)
    for chunk in report_csv(parts, report, viewer):   # text, one batch of rows at a time
        out.write(chunk)

The file opens with lines saying what it reflects, then a header row and the rows in key
order (the preamble is the same in the web download's headers and file name):

    # read model: accounts
    # position: 1234
    # as of: 2026-11-30T23:59:59Z (recorded)
    # position recorded at: 2026-11-30T23:58:12.401200Z
    # generated at: 2026-12-06T03:10:00Z
    account_number,owner_id,balance,status,...

The moment is always one global position: asked by date, the last event at or before it on
the clock asked; asked for nothing, the head of the log when the report began. Rows are read
`BATCH` at a time through `ReadModels.page(..., position=)`, the read model as it stood at
that position rebuilt from the log, so every batch reads the same moment and the whole
report is never in memory.

A read model that holds personal data is reported only with a masking rule (`PERSONAL_ROWS`:
the people list's for `users`), each row as the viewer may see it, exactly as the pages show
it. Before a batch of such rows is handed on, the access log gets one `view` entry per
subject in it, saying which report, which moment and which download: the entries of one
download number its subjects.

Text cells a spreadsheet would run as a formula (`=`, `+`, `-`, `@`, tab or carriage return
first) get a leading `'`; numbers stay numbers.
"""

from __future__ import annotations

import csv
import io
import re
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from webapp.queries.context import Parts, Viewer, runs_domain
from webapp.queries.projections import user_as_seen_by
from webapp.queries.state import RECORDED

Row = dict[str, Any]

BATCH = 500
"""Rows read (and access-logged) at a time."""
FORMULA_START = re.compile(r"^[=+\-@\t\r]")


class NoSuchReport(LookupError):
    """No read model of that name can be reported here (the message says why)."""


@dataclass(frozen=True)
class PersonalRows:
    """How a read model holding personal data is shown: the field naming each row's data
    subject, and the row as a viewer may see it."""

    subject: str
    as_seen_by: Callable[[Row, Viewer], Row]


PERSONAL_ROWS = {"users": PersonalRows("user_id", user_as_seen_by)}
"""The masking rule of each read model holding personal data that may be reported."""


@dataclass(frozen=True)
class Report:
    """One report: which read model, at which position, and the times that position names."""

    read_model: str
    position: int
    recorded_at: datetime | None
    """When the last event at or before `position` was recorded (None: position 0)."""
    asked_at: datetime | None
    """The date asked for, when the moment was asked by date."""
    clock: str
    """The clock `asked_at` is read on."""
    key: str
    columns: tuple[str, ...]
    personal: PersonalRows | None
    generated_at: datetime

    @property
    def as_of(self) -> str:
        """The time the report reflects and its clock: the date asked, else when the event at
        its position was recorded ("before the first event" at position 0)."""
        if self.asked_at is not None:
            return f"{utc_text(self.asked_at)} ({self.clock})"
        if self.recorded_at is not None:
            return f"{utc_text(self.recorded_at)} ({RECORDED})"
        return "before the first event"

    @property
    def filename(self) -> str:
        return f"{self.read_model}-at-{self.position}.csv"

    def preamble(self) -> list[tuple[str, str]]:
        """The `# name: value` lines the file opens with."""
        recorded = "" if self.recorded_at is None else utc_text(self.recorded_at)
        return [
            ("read model", self.read_model),
            ("position", str(self.position)),
            ("as of", self.as_of),
            ("position recorded at", recorded),
            ("generated at", utc_text(self.generated_at)),
        ]


def utc_text(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def reportable(parts: Parts) -> list[str]:
    """The read models that can be reported here, by name."""
    if not runs_domain(parts) or parts.read_models is None:
        return []
    return [name for name in parts.read_models.names() if _refusal(parts, name) is None]


def _refusal(parts: Parts, name: str) -> str | None:
    read_models = parts.read_models
    if read_models is None or name not in read_models:
        return f"there is no read model {name[:60]!r}"
    if not read_models.lookup(name).reportable:
        return f"the read model {name!r} does not list its rows in key order"
    if _holds_personal(parts, name) and name not in PERSONAL_ROWS:
        return f"the read model {name!r} holds personal data and has no masking rule"
    return None


def open_report(
    parts: Parts,
    name: str,
    *,
    position: int | None,
    asked_at: datetime | None = None,
    clock: str = RECORDED,
) -> Report:
    """The report of read model `name` at `position` (a checked moment: see
    `queries.as_of.moment`; None: the head of the log now). Raises NoSuchReport for a read
    model that is not declared, cannot list its rows in key order, or holds personal data
    without a masking rule."""
    refusal = _refusal(parts, name) if runs_domain(parts) else "no domain runs over this store"
    if refusal is not None:
        known = ", ".join(reportable(parts)) or "none"
        raise NoSuchReport(f"{refusal} (reports here: {known})")
    lookup = parts.read_models.lookup(name)  # type: ignore[union-attr]
    if position is None:
        position = parts.source.head_position()
    last = parts.source.read_all_backward(position + 1, limit=1) if position > 0 else []
    return Report(
        read_model=name,
        position=position,
        recorded_at=last[0].recorded_at if last else None,
        asked_at=asked_at,
        clock=clock,
        key=lookup.key or "",
        columns=lookup.columns,
        personal=PERSONAL_ROWS.get(name) if _holds_personal(parts, name) else None,
        generated_at=datetime.now(UTC),
    )


def _holds_personal(parts: Parts, name: str) -> bool:
    projection = parts.read_models.lookup(name).projection  # type: ignore[union-attr]
    return bool(parts.projections.get(projection).holds_personal_data)  # type: ignore[union-attr]


def report_page(
    parts: Parts,
    report: Report,
    viewer: Viewer,
    *,
    after: str | None,
    limit: int,
    download: str,
) -> tuple[list[Row], bool]:
    """Up to `limit` rows after the key `after`, as `viewer` may see them, and whether more
    follow; a read model holding personal data first writes one access-log entry per subject
    in the page. Raises ReplayRefused when the moment cannot be rebuilt."""
    found = parts.read_models.page(  # type: ignore[union-attr]
        report.read_model, after=after, limit=limit + 1, position=report.position
    )
    rows, more = found[:limit], len(found) > limit
    personal = report.personal
    if personal is None or not rows:
        return rows, more
    subjects = [str(row[personal.subject]) for row in rows]
    what = (
        f"report {report.read_model} at position {report.position}, as of {report.as_of}; "
        f"download {download}"
    )
    parts.privacy.record_access(viewer.actor, "view", subjects, what)
    return [personal.as_seen_by(row, viewer) for row in rows], more


def report_rows(
    parts: Parts, report: Report, viewer: Viewer, *, batch: int = BATCH
) -> Iterator[list[Row]]:
    """Every row of the report in key order, `batch` at a time (see `report_page`)."""
    download = uuid.uuid4().hex[:12]
    after: str | None = None
    while True:
        rows, more = report_page(parts, report, viewer, after=after, limit=batch, download=download)
        if rows:
            yield rows
        if not more:
            return
        after = str(rows[-1][report.key])


def report_csv(
    parts: Parts, report: Report, viewer: Viewer, *, batch: int = BATCH
) -> Iterator[str]:
    """The report as CSV text: the preamble, the header row, then each batch of rows. The
    first chunk comes only once the first batch is read, so a moment that cannot be
    rebuilt raises before anything is written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    for name, value in report.preamble():
        buffer.write(f"# {name}: {value}\r\n")
    writer.writerow(report.columns)
    for rows in report_rows(parts, report, viewer, batch=batch):
        for row in rows:
            writer.writerow([report_cell(row.get(column)) for column in report.columns])
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.tell():
        yield buffer.getvalue()


def report_cell(value: Any) -> str:
    """A value as a CSV cell: numbers as written, `true`/`false`, times in ISO 8601 UTC, and
    text a spreadsheet would run as a formula behind a leading `'`."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    text = utc_text(value) if isinstance(value, datetime) else str(value)
    return f"'{text}" if FORMULA_START.match(text) else text
