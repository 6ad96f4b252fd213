"""The web layer's one doorway to the layers below: dispatch, reveal, state, subjects, projections.

Views and the JSON API read the store directly and go through these functions
for everything else, so that a lower layer that is not wired in yet answers with
a clear 503 ("not available yet") instead of a crash, personal data is shown per
role (and logged) in one place, and refusals map to HTTP statuses in one place:

- `CommandValidationError` -> 400, `DomainError` -> 422 (a business rule said no),
  `ConcurrencyError` / `WrongExpectedVersion` -> 409, `InvalidAppend` -> 400.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from flask import abort, current_app

from webapp.domain.log_search import LogSearch
from webapp.privacy.markers import MASKED, is_placeholder
from webapp.store.types import InvalidAppend, RecordedEvent, StreamInfo, WrongExpectedVersion
from webapp.web.accounts import Account
from webapp.web.context import get_runtime, require_part
from webapp.web.errors import RequestRefused

# --- JSON shapes ------------------------------------------------------------------------------


def event_json(event: RecordedEvent) -> dict[str, Any]:
    """An event as the API shows it (DESIGN.md), plus its id and schema version."""
    return {
        "position": event.position,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "type": event.type,
        "data": event.data,
        "metadata": event.metadata,
        "recorded_at": event.recorded_at.isoformat(),
        "event_id": str(event.event_id),
        "schema_version": event.schema_version,
    }


def new_event_json(event: Any) -> dict[str, Any]:
    """An event a command produced: type, stream version, data, metadata."""
    return {
        "type": event.type,
        "stream_version": event.stream_version,
        "data": event.data,
        "metadata": event.metadata,
    }


def stream_json(info: StreamInfo) -> dict[str, Any]:
    return {
        "stream_id": info.stream_id,
        "version": info.version,
        "type": stream_type(info.stream_id),
        "updated_at": info.updated_at.isoformat(),
    }


def stream_type(stream_id: str) -> str | None:
    """The aggregate type a stream belongs to, by its id prefix ("account-7" -> "BankAccount")."""
    router = get_runtime().router
    if router is not None:
        aggregate_cls = router.aggregate_for_stream(stream_id)
        if aggregate_cls is not None:
            return getattr(aggregate_cls, "aggregate_type", aggregate_cls.__name__)
    prefix, sep, _ = stream_id.partition("-")
    return prefix if sep else None


# --- commands ---------------------------------------------------------------------------------


def dispatch(
    name: str, data: dict[str, Any], *, account: Account | None, consistency: str = "eventual"
) -> Any:
    """Dispatch command `name` with `data` as `account`; returns the router's DispatchResult.

    With `consistency="strong"` it returns once the projections have seen the new
    events (when the projections layer offers `wait_for_position`).
    """
    router = require_part("router", "The command router")
    metrics = current_app.extensions["eventscope_metrics"]
    started = time.perf_counter()
    label, outcome = "error", None
    try:
        outcome = router.dispatch_json(name, data, metadata={"actor": _actor(account)})
        label = "ok"
    except Exception as exc:
        refusal = _refusal_for(exc)
        if refusal is None:
            raise
        label = refusal[0]
        raise RequestRefused(refusal[1], refusal[2], code=refusal[3]) from exc
    finally:
        count = len(outcome.events) if outcome is not None else 0
        metrics.observe_command(name, label, time.perf_counter() - started, count)
    if consistency == "strong" and outcome.events:
        _wait_for_projections(outcome.events)
    return outcome


def _refusal_for(exc: Exception) -> tuple[str, int, str, str] | None:
    """(metrics outcome, HTTP status, message, code) for an expected refusal, else None."""
    from webapp.domain.errors import CommandValidationError, ConcurrencyError, DomainError

    if isinstance(exc, CommandValidationError):
        return "invalid", 400, exc.message, exc.code
    if isinstance(exc, ConcurrencyError):
        return "conflict", 409, exc.message, exc.code
    if isinstance(exc, DomainError):
        return "rejected", 422, exc.message, exc.code
    if isinstance(exc, WrongExpectedVersion):
        return "conflict", 409, str(exc), "wrong_expected_version"
    if isinstance(exc, InvalidAppend | ValueError):
        return "invalid", 400, str(exc), "invalid_input"
    return None


def _wait_for_projections(events: Sequence[RecordedEvent], timeout: float = 5.0) -> None:
    """Return once the projections handling `events` have processed them (504 on timeout)."""
    from webapp.projections import ConsistencyTimeout

    projections = require_part("projections", "Strong consistency (the projections layer)")
    names = projections.names_handling({event.type for event in events})
    try:
        projections.wait_until_projected(events[-1].position, names, timeout)
    except ConsistencyTimeout as exc:
        raise RequestRefused(504, str(exc), code="consistency_timeout") from exc


# --- the global log ---------------------------------------------------------------------------


def log_search(**filters: Any) -> LogSearch:
    """The global log with the store's filters; a payload filter also matches old events
    by their fields as read today (after upcasting)."""
    router = get_runtime().router
    upcasters = router.repository.upcasters if router is not None else None
    return LogSearch(get_runtime().store, upcasters, **filters)


# --- personal data ----------------------------------------------------------------------------


def reveal(
    events: Sequence[RecordedEvent], account: Account | None, *, purpose: str
) -> list[RecordedEvent]:
    """Events with personal fields as `account`'s role may see them.

    Viewers see them masked; support and admin see them decrypted (and the view
    is written to the access log); a forgotten subject's values are a placeholder.
    """
    privacy = get_runtime().privacy
    if privacy is not None:
        return privacy.view_events(
            events, actor=_actor(account), role=_role(account), where=purpose
        )
    if not _sees_personal_data(account):
        return [_mask_personal(event) for event in events]
    return list(events)


def _sees_personal_data(account: Account | None) -> bool:
    return account is not None and account.has_role("support")


def _mask_value(value: Any) -> Any:
    if value is None or is_placeholder(value):
        return value
    return MASKED


def _mask_personal(event: RecordedEvent) -> RecordedEvent:
    from webapp.domain import event_class

    cls = event_class(event.type)
    personal = getattr(cls, "__personal_data__", None) or {}
    if not personal:
        return event
    data = {key: (_mask_value(v) if key in personal else v) for key, v in event.data.items()}
    return replace(event, data=data)


# --- state, subjects, projections -------------------------------------------------------------


def state_at(stream_id: str, version: int, account: Account | None) -> Any:
    """The aggregate state of `stream_id` at `version` (a domain `StateAt`, with its load report).

    Personal fields are decoded for `account`'s role: masked for viewers; shown and
    written to the access log for support and admin; a placeholder once forgotten.
    """
    from webapp.domain import Repository, StateAt

    runtime = get_runtime()
    router = require_part("router", "Aggregate state (the domain router)")
    aggregate_cls = router.aggregate_for_stream(stream_id)
    if aggregate_cls is None:
        abort(404, description=f"no aggregate type is known for stream {stream_id!r}")
    if runtime.privacy is None:
        found = router.state_at(stream_id, version)
        if _sees_personal_data(account):
            return found
        from webapp.domain import personal_field_names

        personal = personal_field_names()
        state = {k: (_mask_value(v) if k in personal else v) for k, v in found.state.items()}
        return replace(found, state=state)
    codec = runtime.privacy.reader(
        role=_role(account), actor=_actor(account), where=f"state of {stream_id} at {version}"
    )
    repository = Repository(runtime.store, codec=codec, upcasters=router.repository.upcasters)
    aggregate, at, report = repository.load(aggregate_cls, stream_id, max_version=version)
    return StateAt(stream_id, aggregate_cls.aggregate_type, at, aggregate.state(), report)


def export_subject(subject_id: str, account: Account | None) -> dict[str, Any]:
    """Everything held on a subject, decrypted (logged by the privacy layer)."""
    privacy = require_part("privacy", "Subject export (the privacy layer)")
    with _privacy_refusals():
        return privacy.export(subject_id, actor=_actor(account), role=_role(account))


def forget_subject(subject_id: str, reason: str, account: Account | None) -> dict[str, Any]:
    """Crypto-shred a subject; returns what was done (idempotent)."""
    privacy = require_part("privacy", "Forgetting a subject (the privacy layer)")
    with _privacy_refusals():
        result = privacy.forget(
            subject_id, reason=reason, actor=_actor(account), role=_role(account)
        )
    return _as_dict(result)


def check_store_answers() -> None:
    """Read the head of the global log; a store that does not answer raises as any read does
    (the web layer answers 503)."""
    get_runtime().store.head_position()


def find_subjects_by_email(email: str, account: Account | None) -> list[dict[str, Any]]:
    """The subjects who used this e-mail address, with their status (blind index; logged)."""
    privacy = require_part("privacy", "Finding subjects (the privacy layer)")
    with _privacy_refusals():
        found = privacy.subjects_with_email(email, actor=_actor(account), role=_role(account))
    return [status.as_dict() for status in found]


def subject_status(subject_id: str) -> dict[str, Any]:
    """Whether the subject is active or forgotten, and when, why and by whom (no personal data)."""
    privacy = require_part("privacy", "Subjects (the privacy layer)")
    with _privacy_refusals():
        status = privacy.status(subject_id)
    if status.state == "unknown":
        abort(404, description=f"no subject {subject_id!r}")
    return status.as_dict()


def access_log_page(before: int | None, limit: int, **filters: Any) -> dict[str, Any]:
    """One page of the PII access log, newest first, and the cursor of the next page."""
    privacy = require_part("privacy", "The access log (the privacy layer)")
    page = privacy.access_log(**filters, before=before, limit=limit)
    return {"entries": [entry.as_dict() for entry in page.entries], "next": page.next}


def reregister_subject(subject_id: str, reason: str, account: Account | None) -> dict[str, Any]:
    """Let a forgotten subject hold personal data again, under a new key (admin; audited)."""
    privacy = require_part("privacy", "Re-registering a subject (the privacy layer)")
    with _privacy_refusals():
        status = privacy.reregister(
            subject_id, reason=reason, actor=_actor(account), role=_role(account)
        )
    return status.as_dict()


@contextmanager
def _privacy_refusals() -> Iterator[None]:
    from webapp.privacy.errors import AccessDenied

    try:
        yield
    except AccessDenied as exc:
        raise RequestRefused(403, str(exc), code="access_denied") from exc
    except ValueError as exc:
        raise RequestRefused(400, str(exc), code="invalid_input") from exc


def projection_statuses() -> list[dict[str, Any]]:
    """Each projection, process manager and timer: name, kind, state, position, lag, errors."""
    projections = require_part("projections", "Projections")
    statuses = []
    for status in projections.status():
        item = dict(status)
        item.setdefault("lag", item.get("lag_events"))
        statuses.append(item)
    return statuses


def rebuild_projection(name: str) -> dict[str, Any]:
    """Ask the worker to rebuild projection `name` from position 0; returns its status."""
    from webapp.projections import UnknownProjection

    projections = require_part("projections", "Projections")
    try:
        return dict(projections.request_rebuild(name))
    except UnknownProjection:
        abort(404, description=f"no projection {name!r}")


def resume_projection(name: str, account: Account | None, skip_position: int | None) -> dict:
    """Ask the worker to retry (or skip) the event stopped unit `name` stopped at."""
    from webapp.projections import ResumeRefused, UnknownProjection

    projections = require_part("projections", "Projections")
    actor = account.name if account is not None else "unknown"
    try:
        return dict(projections.request_resume(name, actor=actor, skip_position=skip_position))
    except UnknownProjection:
        abort(404, description=f"no projection or process manager {name!r}")
    except ResumeRefused as refused:
        abort(409, description=str(refused))


def account_summary(account_number: str, account: Account | None) -> dict[str, Any]:
    """The account-summary read model row (balance, status, owner)."""
    row = get_runtime().read_models.get("accounts", account_number)
    if row is None:
        abort(404, description=f"no account {account_number!r} in the account summary")
    return dict(row)


def _as_dict(value: Any) -> dict[str, Any]:
    if isinstance(value, dict):
        return value
    if hasattr(value, "as_dict"):
        return value.as_dict()
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if hasattr(value, "__dataclass_fields__"):
        import dataclasses

        return dataclasses.asdict(value)
    return dict(vars(value))


def _actor(account: Account | None) -> str:
    return account.name if account else "anonymous"


def _role(account: Account | None) -> str:
    return account.role if account else "viewer"
