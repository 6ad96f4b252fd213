"""A rebuild's preview as a reader may see it: the diff of webapp.projections.preview, with
the field values of a projection holding personal data masked unless the reader may see
them, and each showing of them recorded in the access log.

    diff = preview_for(parts, viewer, "user_directory", limit=50)

The rows of a projection holding personal data are about the subject their (one-column)
primary key names, as the user directory's are: a value is shown when the viewer may see
that subject's field (`Viewer.may_see`: support and admin through the API and the CLI,
each showing logged; on the dashboard only what they revealed, logged when revealed).
Keys are shown as the read-model pages show them.
"""

from __future__ import annotations

from typing import Any

from webapp.privacy import Masked
from webapp.queries.context import Parts, Viewer
from webapp.queries.personal import record_view


def preview_for(
    parts: Parts,
    viewer: Viewer,
    name: str,
    *,
    table: str | None = None,
    after: list[Any] | None = None,
    limit: int = 50,
) -> dict[str, Any]:
    """The preview of projection `name` against its live generation, as `viewer` may see it
    (raises what `Projections.preview` raises: UnknownProjection, ControlRefused, ValueError)."""
    service = parts.projections
    diff = service.preview(name, table=table, after=after, limit=limit)
    diff["personal_data"] = service.get(name).holds_personal_data
    if not diff["personal_data"]:
        return diff
    shown: set[str] = set()
    for item in diff["tables"]:
        key = item["key"]
        for row in item["rows"]:
            subject = str(row["key"][key[0]]) if len(key) == 1 else None
            _mask_row(row, key, subject, viewer, shown)
    if shown:
        record_view(parts, viewer, sorted(shown), f"projections: preview of {name}")
    return diff


def _mask_row(
    row: dict[str, Any], key: list[str], subject: str | None, viewer: Viewer, shown: set[str]
) -> None:
    def visible(column: str) -> bool:
        return subject is not None and viewer.may_see(subject, column)

    if "row" in row:
        for column, value in row["row"].items():
            if column in key or value is None:
                continue
            if visible(column):
                shown.add(str(subject))
            else:
                row["row"][column] = Masked(subject)
    for column, change in row.get("fields", {}).items():
        if visible(column):
            shown.add(str(subject))
            continue
        for side in ("old", "new"):
            if change[side] is not None:
                change[side] = Masked(subject)
