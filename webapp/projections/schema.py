"""The projection engine's own tables (created by the Alembic branch "projections").

Read-model tables are not here: each projection creates its own, versioned by
generation (`rm_account_summary_v3`), so a rebuild can fill new tables while the
live generation keeps serving readers.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlalchemy as sa

metadata = sa.MetaData()

registry = sa.Table(
    "projection_registry",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("live_generation", sa.Integer, nullable=False),
    sa.Column("rebuild_generation", sa.Integer, nullable=True),
    sa.Column("rebuild_requested_at", sa.Float, nullable=True),
    sa.Column("updated_at", sa.Float, nullable=False),
    sa.Column("model_version", sa.Integer, nullable=True),  # Projection.version (NULL: 1)
    # a reset: the requested rebuild starts after this position instead of 0
    sa.Column("rebuild_from", sa.BigInteger, nullable=True),
    # a preview (webapp.projections.preview): the rebuild is held once caught up, beside the
    # live generation, until an admin's decision ("switch" | "discard") is carried out
    sa.Column("rebuild_hold", sa.Boolean, nullable=True),
    sa.Column("hold_requested_by", sa.String(200), nullable=True),
    sa.Column("preview_decision", sa.String(16), nullable=True),
    sa.Column("decided_by", sa.String(200), nullable=True),
)

pauses = sa.Table(
    "projection_pauses",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("paused_by", sa.String(200), nullable=False),
    sa.Column("paused_at", sa.Float, nullable=False),
)

dead_letters = sa.Table(
    "projection_dead_letters",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("position", sa.BigInteger, primary_key=True),
    sa.Column("event_id", sa.String(36), nullable=True),
    sa.Column("event_type", sa.String(200), nullable=True),
    sa.Column("error", sa.Text, nullable=False),  # webapp.projections.failures: no payload values
    sa.Column("parked_at", sa.Float, nullable=False),
    sa.Column("attempts", sa.Integer, nullable=False),
    # an operator's retry waiting for the worker (who asked, when)
    sa.Column("retry_requested_by", sa.String(200), nullable=True),
    sa.Column("retry_requested_at", sa.Float, nullable=True),
)

operator_log = sa.Table(
    "projection_operator_log",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, index=True),
    # pause | resume | reset | retry_requested | retried | retry_failed | skipped |
    # preview_requested | switch_requested | discard_requested | preview_switched |
    # preview_discarded
    sa.Column("action", sa.String(32), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=True),
    sa.Column("actor", sa.String(200), nullable=False),
    sa.Column("detail", sa.Text, nullable=True),
    sa.Column("at", sa.Float, nullable=False),
)

resume_requests = sa.Table(
    "projection_resume_requests",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    # the event the unit had stopped at when the operator asked (a clock-free way to
    # tell this stop from a later one), and whether to skip it (else retry it)
    sa.Column("stopped_position", sa.BigInteger, nullable=False),
    sa.Column("skip", sa.Boolean, nullable=False),
    sa.Column("requested_by", sa.String(200), nullable=False),
    sa.Column("requested_at", sa.Float, nullable=False),
)

checkpoints = sa.Table(
    "projection_checkpoints",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("generation", sa.Integer, primary_key=True),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

errors = sa.Table(
    "projection_errors",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False, index=True),
    sa.Column("generation", sa.Integer, nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("event_id", sa.String(36), nullable=True),
    sa.Column("event_type", sa.String(200), nullable=True),
    sa.Column("outcome", sa.String(16), nullable=False),  # skipped | stopped | parked
    sa.Column("error", sa.Text, nullable=False),
    sa.Column("recorded_at", sa.Float, nullable=False),
)

status = sa.Table(
    "projection_status",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),  # projection | process_manager | timer
    sa.Column("state", sa.String(20), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False, default=0),
    sa.Column("head", sa.BigInteger, nullable=False, default=0),
    sa.Column("events_per_second", sa.Float, nullable=False, default=0.0),
    sa.Column("last_error", sa.Text, nullable=True),
    sa.Column("error_position", sa.BigInteger, nullable=True),
    sa.Column("rebuild_position", sa.BigInteger, nullable=True),
    sa.Column("rebuild_target", sa.BigInteger, nullable=True),
    sa.Column("worker", sa.String(100), nullable=True),
    sa.Column("heartbeat_at", sa.Float, nullable=False),
)

progress = sa.Table(
    "projection_progress",
    metadata,
    # each unit's position and the log's head as last seen in each minute (unix time // 60),
    # for the health page's charts; rows older than PROGRESS_KEPT_MINUTES are pruned
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("minute", sa.Integer, primary_key=True),
    sa.Column("kind", sa.String(20), nullable=False),
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("head", sa.BigInteger, nullable=False),
    sa.Column("at", sa.Float, nullable=False),
)

PROGRESS_KEPT_MINUTES = 24 * 60

copies = sa.Table(
    "projection_copies",
    metadata,
    # a read model's tables as they stood at one position of the log, outside the live
    # generations (webapp.projections.copies): a kept milestone, or a short-lived scratch
    # generation an as-of read was answered from; its tables are those of generation
    # COPY_GENERATION_BASE + id
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("kind", sa.String(16), nullable=False),  # milestone | scratch
    sa.Column("position", sa.BigInteger, nullable=False),
    sa.Column("model_version", sa.Integer, nullable=False),
    sa.Column("state", sa.String(16), nullable=False),  # building | ready
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("created_at", sa.Float, nullable=False),
    # past it, anyone may drop the copy (NULL: a ready milestone, kept until pruned)
    sa.Column("expires_at", sa.Float, nullable=True),
    # "<kind>:<name>:<model_version>:<position>": one copy of a moment at a time, whichever
    # process builds it (the unique index is the claim; NULL only on rows from before it)
    sa.Column("moment", sa.String(200), nullable=True),
    sa.Index("ix_projection_copies_name_kind_position", "name", "kind", "position"),
    sa.Index("ux_projection_copies_moment", "moment", unique=True),
)

leases = sa.Table(
    "projection_leases",
    metadata,
    sa.Column("name", sa.String(100), primary_key=True),
    sa.Column("owner", sa.String(100), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

process_instances = sa.Table(
    "process_instances",
    metadata,
    sa.Column("process", sa.String(100), primary_key=True),
    sa.Column("instance_id", sa.String(200), primary_key=True),
    sa.Column("state", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # running | finished | failed
    sa.Column("last_position", sa.BigInteger, nullable=False),
    sa.Column("started_at", sa.Float, nullable=False),
    sa.Column("updated_at", sa.Float, nullable=False),
)

process_timeouts = sa.Table(
    "process_timeouts",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("process", sa.String(100), nullable=False),
    sa.Column("instance_id", sa.String(200), nullable=False),
    sa.Column("name", sa.String(100), nullable=False),
    sa.Column("due_at", sa.Float, nullable=False, index=True),
    sa.Column("command_type", sa.String(200), nullable=False),
    sa.Column("command_data", sa.JSON, nullable=False),
    sa.Column("metadata", sa.JSON, nullable=False),
    sa.Column("status", sa.String(16), nullable=False),  # pending | fired | cancelled | refused
    sa.Column("outcome", sa.Text, nullable=True),
    sa.Column("fired_at", sa.Float, nullable=True),
    sa.UniqueConstraint("process", "instance_id", "name", name="uq_process_timeouts_key"),
)


def iso(epoch: float | None) -> str | None:
    """An epoch-seconds column (every time in these tables) as an ISO 8601 UTC string."""
    if epoch is None:
        return None
    return datetime.fromtimestamp(epoch, UTC).isoformat()
