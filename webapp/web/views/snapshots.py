"""Snapshots: how each aggregate type snapshots, which streams have snapshots, which are stale,
and how aggregates were rehydrated (from a snapshot or by a full replay).

A snapshot is stale when its shape version (`snapshot_version`) or type no longer
matches the aggregate's: loads skip it and replay instead.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from webapp.store.types import Snapshot, StreamInfo
from webapp.web.access import requires_role
from webapp.web.context import get_runtime, require_part
from webapp.web.numbers import BadNumber, whole_number
from webapp.web.pages import render_view
from webapp.web.views.streams import snapshot_is_current

bp = Blueprint("snapshots", __name__, url_prefix="/snapshots")

PAGE_SIZE = 25
SCAN_BATCH = 250
SCAN_LIMIT = 250
"""Streams looked at per request when looking for ones with snapshots (bounded work)."""


@dataclass(frozen=True)
class SnapshotRow:
    stream_id: str
    version: int
    snapshot_version: int
    type: str
    size: int
    taken_at: datetime | None
    current: bool
    stream_version: int | None = None

    @property
    def age_seconds(self) -> float | None:
        if self.taken_at is None:
            return None
        return max(0.0, (datetime.now(UTC) - self.taken_at).total_seconds())

    @property
    def events_since(self) -> int | None:
        return None if self.stream_version is None else self.stream_version - self.version


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


def snapshot_row(snapshot: Snapshot, aggregate_cls: Any, info: StreamInfo | None) -> SnapshotRow:
    return SnapshotRow(
        stream_id=snapshot.stream_id,
        version=snapshot.version,
        snapshot_version=snapshot.snapshot_version,
        type=snapshot.type,
        size=len(json.dumps(snapshot.data, separators=(",", ":"), default=str)),
        taken_at=snapshot.taken_at,
        current=snapshot_is_current(aggregate_cls, snapshot),
        stream_version=info.version if info is not None else None,
    )


def snapshot_policies() -> list[dict[str, Any]]:
    """Per aggregate type: prefix, snapshot_every and the current snapshot (shape) version."""
    router = require_part("router", "The domain router")
    seen: dict[str, dict[str, Any]] = {}
    for route in router.routes():
        aggregate = route.aggregate
        seen.setdefault(
            aggregate.aggregate_type,
            {
                "aggregate_type": aggregate.aggregate_type,
                "prefix": route.prefix,
                "snapshot_every": aggregate.snapshot_every,
                "snapshot_version": aggregate.snapshot_version,
                "cls": aggregate,
            },
        )
    return list(seen.values())


def streams_with_snapshots(
    policy: dict[str, Any], after: str | None
) -> tuple[list[SnapshotRow], str | None]:
    """The newest snapshot of streams of one type, keyset by stream id.

    Only streams long enough to have crossed `snapshot_every` are asked for a
    snapshot; at most SCAN_LIMIT streams are looked at per call, and the cursor
    returned is the last stream id looked at (None when the type is exhausted).
    """
    store = get_runtime().store
    every = policy["snapshot_every"]
    rows: list[SnapshotRow] = []
    scanned = 0
    cursor = after
    while scanned < SCAN_LIMIT:
        batch = store.list_streams(policy["prefix"], after=cursor, limit=SCAN_BATCH)
        if not batch:
            return rows, None
        # a page's worth of streams per query: one round trip each, and no more
        # snapshot documents read than a page can show
        for start in range(0, len(batch), PAGE_SIZE):
            chunk = batch[start : start + PAGE_SIZE]
            snapshots = store.read_latest_snapshots(
                [info.stream_id for info in chunk if not every or info.version >= every]
            )
            for info in chunk:
                scanned += 1
                cursor = info.stream_id
                snapshot = snapshots.get(info.stream_id)
                if snapshot is not None:
                    rows.append(snapshot_row(snapshot, policy["cls"], info))
                if len(rows) >= PAGE_SIZE:
                    return rows, cursor
        if len(batch) < SCAN_BATCH:
            return rows, None
    return rows, cursor


def _policy_or_400(name: str, policies: list[dict[str, Any]]) -> dict[str, Any]:
    for policy in policies:
        if policy["aggregate_type"] == name:
            return policy
    known = ", ".join(p["aggregate_type"] for p in policies)
    abort(400, description=f"Unknown aggregate type {name!r}; known types: {known}.")


@bp.get("/")
@requires_role("viewer")
def index() -> str | Response:
    """Snapshot policy per type, rehydration stats, and streams with snapshots (keyset-paged)."""
    router = require_part("router", "The domain router")
    policies = snapshot_policies()
    snapshotting = [p for p in policies if p["snapshot_every"]]
    name = request.args.get("type", "").strip()
    if not name and snapshotting:
        name = snapshotting[0]["aggregate_type"]
    after = request.args.get("after") or None
    if after is not None and len(after) > 400:
        abort(400, description="The paging cursor is too long.")
    rows: list[SnapshotRow] = []
    next_after = None
    policy = None
    if name:
        policy = _policy_or_400(name, policies)
        if policy["snapshot_every"]:
            rows, next_after = streams_with_snapshots(policy, after)
    stats = router.load_stats()
    if request.args.get("format") == "json":
        return snapshots_json(policies, rows, next_after, stats)
    return render_view(
        "snapshots/page.html",
        "snapshots/_list.html",
        policies=policies,
        policy=policy,
        rows=rows,
        after=after,
        next_after=next_after,
        stats=stats,
        human_age=human_age,
    )


@bp.get("/<id:stream_id>")
@requires_role("viewer")
def stream(stream_id: str) -> str:
    """Every snapshot of one stream, newest first, keyset-paged by version."""
    runtime = get_runtime()
    info = runtime.store.stream_info(stream_id)
    if info is None:
        abort(404, description=f"There is no stream {stream_id!r}.")
    raw = request.args.get("before", "").strip()
    ceiling = info.version
    if raw:
        try:
            ceiling = whole_number(raw, "version cursor")
        except BadNumber as exc:
            abort(400, description=str(exc))
    aggregate_cls = runtime.router.aggregate_for_stream(stream_id) if runtime.router else None
    rows: list[SnapshotRow] = []
    while ceiling >= 1 and len(rows) < PAGE_SIZE:
        snapshot = runtime.store.read_snapshot(stream_id, max_version=ceiling)
        if snapshot is None:
            break
        rows.append(snapshot_row(snapshot, aggregate_cls, info))
        ceiling = snapshot.version - 1
    more = bool(rows) and ceiling >= 1 and len(rows) == PAGE_SIZE
    return render_view(
        "snapshots/stream.html",
        "snapshots/_stream.html",
        info=info,
        rows=rows,
        aggregate_cls=aggregate_cls,
        next_before=rows[-1].version - 1 if more else None,
        human_age=human_age,
    )


def snapshots_json(
    policies: list[dict[str, Any]],
    rows: list[SnapshotRow],
    next_after: str | None,
    stats: dict[str, Any],
) -> Response:
    return jsonify(
        policies=[{k: v for k, v in p.items() if k != "cls"} for p in policies],
        rehydration=stats,
        snapshots=[
            {
                "stream_id": r.stream_id,
                "version": r.version,
                "snapshot_version": r.snapshot_version,
                "type": r.type,
                "size": r.size,
                "taken_at": r.taken_at,
                "current": r.current,
                "stream_version": r.stream_version,
            }
            for r in rows
        ],
        next=next_after,
    )
