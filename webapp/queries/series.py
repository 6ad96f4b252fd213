"""A stream's numeric state fields over its versions, for a chart: the fields its aggregate
names in `__charted__`, folded honestly by the domain's history (the same path as the
state at a version), over the latest `MAX_VERSIONS` versions at most.

    for series in charted_series(runtime, "account-A-7"):
        series.field, series.points   # "balance", [(1, 1000), (2, 1250), (3, 1200)]
"""

from __future__ import annotations

from dataclasses import dataclass

from webapp.domain import Repository
from webapp.domain.formats import Format, charted_fields, format_of
from webapp.domain.history import field_history
from webapp.queries.context import Parts

MAX_VERSIONS = 500
"""The most versions a chart folds: a longer stream shows its latest ones (and says so)."""


@dataclass(frozen=True)
class FieldSeries:
    """One numeric state field at each version from `first` to `last` (of `total`)."""

    stream_id: str
    aggregate_type: str
    field: str
    format: Format | None
    points: list[tuple[int, float]]
    """(version, value), oldest first; a version whose value is no number is left out."""
    first: int
    last: int
    total: int

    @property
    def latest_only(self) -> bool:
        """True when the stream is longer than the chart: only its latest versions are shown."""
        return self.first > 1


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def fold_before_chart(parts: Parts, stream_id: str, *, limit: int = MAX_VERSIONS) -> int:
    """How many events a chart of the stream folds before its first version (from the
    newest snapshot below it, else from the start): 0 when the stream charts nothing."""
    router = parts.router
    aggregate_cls = None if router is None else router.aggregate_for_stream(stream_id)
    if aggregate_cls is None or not charted_fields(aggregate_cls):
        return 0
    info = parts.source.stream_info(stream_id)
    if info is None:
        return 0
    first = max(1, info.version - limit + 1)
    if first == 1:
        return 0
    snapshot = parts.source.read_snapshot(stream_id, max_version=first - 1)
    return first - 1 - (snapshot.version if snapshot is not None else 0)


def charted_series(parts: Parts, stream_id: str, *, limit: int = MAX_VERSIONS) -> list[FieldSeries]:
    """Each field the stream's aggregate charts, at each of its latest `limit` versions
    (none without a domain, an aggregate, a charted field or an event). Every role may see
    it: events are read as a viewer reads them (personal fields masked, nothing logged)."""
    router = parts.router
    aggregate_cls = None if router is None else router.aggregate_for_stream(stream_id)
    fields = charted_fields(aggregate_cls) if aggregate_cls is not None else ()
    if router is None or aggregate_cls is None or not fields:
        return []
    info = parts.source.stream_info(stream_id)
    if info is None or info.version < 1:
        return []
    first = max(1, info.version - limit + 1)
    # as a viewer reads it: personal fields masked, nothing decrypted, nothing logged
    reader = parts.privacy.reader(role="viewer", where=f"chart of {stream_id}")
    repository = Repository(parts.source, codec=reader, upcasters=router.repository.upcasters)
    history = field_history(repository, aggregate_cls, stream_id, fields, first, info.version)
    out = []
    for name in fields:
        points = []
        for version, values in history:
            value = _number(values.get(name))
            if value is not None:
                points.append((version, value))
        out.append(
            FieldSeries(
                stream_id=stream_id,
                aggregate_type=aggregate_cls.aggregate_type,
                field=name,
                format=format_of(aggregate_cls, name),
                points=points,
                first=first,
                last=info.version,
                total=info.version,
            )
        )
    return out
