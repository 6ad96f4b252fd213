"""Snapshots: how each aggregate type snapshots, which streams have snapshots, which are stale,
and how aggregates were rehydrated (from a snapshot or by a full replay).

A snapshot is stale when its shape version (`snapshot_version`) or type no longer
matches the aggregate's: loads skip it and replay instead.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, abort, jsonify, request

from webapp.queries import snapshots as snapshot_queries
from webapp.queries.snapshots import SnapshotRow
from webapp.queries.streams import stream_info
from webapp.web.access import requires_role
from webapp.web.context import get_runtime, runs_domain
from webapp.web.numbers import BadNumber, whole_number
from webapp.web.pages import render_view

bp = Blueprint("snapshots", __name__, url_prefix="/snapshots")

PAGE_SIZE = 25


def human_age(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.0f} s"


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
    runtime = get_runtime()
    policies = snapshot_queries.snapshot_policies(runtime)
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
    if not runs_domain():  # one policy: the foreign store's snapshots, if it keeps any
        policy = policies[0] if policies else None
        if policy is not None:
            rows, next_after = snapshot_queries.streams_with_snapshots(
                runtime, policy, after, PAGE_SIZE
            )
    elif name:
        policy = _policy_or_400(name, policies)
        if policy["snapshot_every"]:
            rows, next_after = snapshot_queries.streams_with_snapshots(
                runtime, policy, after, PAGE_SIZE
            )
    stats = snapshot_queries.load_stats(runtime)
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
    info = stream_info(runtime, stream_id)
    if info is None:
        abort(404, description=f"There is no stream {stream_id!r}.")
    raw = request.args.get("before", "").strip()
    ceiling = info.version
    if raw:
        try:
            ceiling = whole_number(raw, "version cursor")
        except BadNumber as exc:
            abort(400, description=str(exc))
    found = snapshot_queries.stream_snapshots(runtime, info, ceiling, PAGE_SIZE)
    return render_view(
        "snapshots/stream.html",
        "snapshots/_stream.html",
        info=info,
        rows=found.rows,
        aggregate_cls=found.aggregate_cls,
        next_before=found.next_before,
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
        snapshots=[row.to_dict() for row in rows],
        next=next_after,
    )
