"""Read projections, process managers and the worker.

Public API (the web layer and the CLI use only these):

    from webapp.projections import (
        Projection, FailurePolicy, Projections, build_projections,
        ProcessManager, ProcessContext, Worker, start_in_process,
        wait_until_projected, dispatch_strong, ConsistencyTimeout,
        ProjectionsParticipant,
    )

`runtime.projections` is a `Projections`: `status()`, `status_of(name)`,
`request_rebuild(name)` (the status it returns carries `rebuild_percent`),
`rebuild_now(name, on_progress=...)`, `errors(name)`, resuming a stopped unit
(`request_resume(name, actor=, skip_position=)`, `pending_resume(name)`), operator
controls (`pause(name, actor=)`, `request_reset(name, position, actor=)`,
`dead_letters(name)`, `retry_parked(name, position, actor=)`, `skip_parked(...)`,
`operator_log(name)`), previews of a rebuild (`request_preview(name, actor=)`,
`preview(name, table=, after=, limit=)`, `preview_state(name)`,
`decide_preview(name, "switch" | "discard", actor=)`, `carry_out_here(name)`), read models
(`get_account_summary(n)`, `list_accounts()`, `get_user(id)`, `list_users()`,
`daily_activity()`, `event_type_counts()`, `stream_categories()`, as of a position
(`query_as_of(name, position, fn)`, `take_milestone(name)`, `milestones(name)`),
`get_transfer(id)`, `list_transfers()`), process managers
(`get_process(name)`, `process_instances(process, status=, instance_id=, before=)`,
`pending_timeouts()`), consistency
(`names_handling(types)`, `wait_until_projected(position, names, timeout)`,
`dispatch(command, metadata, consistency="strong")`) and personal data
(`forget_subject(id)`, `export_subject(id)`, `related_streams(id)`). Operating them:
docs/projections.md.

`ProjectionsParticipant(projections)` is the projections' part in a forget and a
subject access export, handed to the privacy layer by the composition root.

Modules, one idea each: `projection` (the read-model contract), `generations` (live and
rebuilt generations, the registry), `unit` (what every runner shares), `runner` (one
projection's catch-up and live loop), `group` (one read of the log for many),
`process_manager` (the process contract), `process_runner`, `timeouts`, `leadership`,
`worker`, `service` (the facade), `status`, `copies` (milestones and scratch
generations of a read model at one position), `replay` (a projection's handlers over a
stretch of the log), `milestones`, `as_of` (read models as they stood at a position),
`process_views`, `operations` (rebuild, resume, pause, reset, dead letters, previews),
`preview` (a rebuild held for comparison, the decision on it, the diff), `resume`
(resume requests), `controls` (pauses, dead letters, the operator log), `consistency`,
`personal_data`, `lookups`.
"""

from __future__ import annotations

from webapp.database.upserts import upsert
from webapp.projections.consistency import (
    ConsistencyTimeout,
    dispatch_strong,
    wait_until_projected,
)
from webapp.projections.errors import (
    ControlRefused,
    InvalidPosition,
    NotParked,
    ResumeRefused,
    UnknownProjection,
)
from webapp.projections.milestones import CopyBusy, MilestonePolicy
from webapp.projections.personal_data import ProjectionsParticipant
from webapp.projections.process_manager import ProcessContext, ProcessManager
from webapp.projections.projection import FailurePolicy, Projection, table_name
from webapp.projections.replay import ReplayRefused
from webapp.projections.service import Projections, build_projections
from webapp.projections.worker import Worker, start_in_process

__all__ = [
    "ConsistencyTimeout",
    "CopyBusy",
    "ControlRefused",
    "InvalidPosition",
    "MilestonePolicy",
    "NotParked",
    "FailurePolicy",
    "ProcessContext",
    "ProcessManager",
    "Projection",
    "Projections",
    "ProjectionsParticipant",
    "ReplayRefused",
    "ResumeRefused",
    "UnknownProjection",
    "Worker",
    "build_projections",
    "dispatch_strong",
    "start_in_process",
    "table_name",
    "upsert",
    "wait_until_projected",
]
