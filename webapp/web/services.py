"""The web layer's doorway to actions and its JSON shapes: dispatch, forget, export, rebuild.

Pages and the API read through `webapp.queries`; what changes something goes through
these functions, so that refusals map to HTTP statuses in one place:

- `CommandValidationError` -> 400, `DomainError` -> 422 (a business rule said no),
  `ConcurrencyError` / `WrongExpectedVersion` -> 409, `InvalidAppend` -> 400;
- privacy's `AccessDenied` -> 403, a malformed subject id or reason -> 400.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from flask import Response, abort, current_app

from webapp.domain import CommandValidationError, ConcurrencyError, DomainError
from webapp.privacy import AccessDenied, Showing
from webapp.projections import (
    ConsistencyTimeout,
    ControlRefused,
    CopyBusy,
    InvalidPosition,
    NotParked,
    ReplayRefused,
    ResumeRefused,
    UnknownProjection,
)
from webapp.queries import (
    InvalidAppend,
    RecordedEvent,
    StreamInfo,
    Viewer,
    WrongExpectedVersion,
    audit,
    occurred_time,
    personal,
    subjects,
)
from webapp.queries.as_of import account_summary_at
from webapp.queries.log import head_position
from webapp.queries.projections import account_summary as read_account_summary
from webapp.queries.rebuild_preview import preview_for as rebuild_preview_for
from webapp.queries.streams import stream_type
from webapp.web.accounts import Account
from webapp.web.context import current_viewer, get_runtime
from webapp.web.errors import RequestRefused
from webapp.web.page_cache import PAGES_KEY, CachedPage, PageCache
from webapp.web.rendering import json_reply, utc_or_text

OCCURRED_AT = "occurred_at"
"""The metadata key of business time, as `occurred_time` reads it."""

# --- JSON shapes ------------------------------------------------------------------------------


def event_json(event: RecordedEvent) -> dict[str, Any]:
    """An event as the API shows it (DESIGN.md), plus its id and schema version. The id is
    left a UUID and a UTC time a datetime: the encoder writes them as text, as `str()` and
    `isoformat()` would (`event_page` encodes them in C)."""
    return {
        "position": event.position,
        "stream_id": event.stream_id,
        "stream_version": event.stream_version,
        "type": event.type,
        "data": event.data,
        "metadata": event.metadata,
        "recorded_at": utc_or_text(event.recorded_at),
        "occurred_at": _occurred_at(event.metadata),
        "event_id": event.event_id,
        "schema_version": event.schema_version,
    }


def _occurred_at(metadata: Any) -> str | None:
    """When the event happened, as the domain recorded it (`metadata.occurred_at`) in UTC;
    None when the domain did not say."""
    mapping = type(metadata) is dict or isinstance(metadata, Mapping)  # the first is quicker
    raw = metadata.get(OCCURRED_AT) if mapping else None
    return _occurred_text(raw) if isinstance(raw, str) else None


@functools.lru_cache(maxsize=8192)
def _occurred_text(raw: str) -> str | None:
    """`raw` read as `occurred_time` reads it, in ISO 8601 (remembered: the same pages of
    events are served again and again, and parsing a time costs more than the lookup)."""
    at = occurred_time({OCCURRED_AT: raw})
    return None if at is None else at.isoformat()


def event_page(events: Sequence[RecordedEvent], next_cursor: int | None) -> Response:
    """A page of events as the API replies it: `{"events": [...], "next": ...}`."""
    return json_reply({"events": [event_json(event) for event in events], "next": next_cursor})


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
        "type": stream_type(get_runtime(), info.stream_id),
        "updated_at": info.updated_at.isoformat(),
    }


# --- reading for the signed-in account ----------------------------------------------------------


def reveal(events: Sequence[RecordedEvent], *, where: str) -> list[RecordedEvent]:
    """`events` with personal fields as the signed-in account's role may see them (masked for
    viewers; in clear and written to the access log for support and admin)."""
    return personal.reveal(get_runtime(), events, current_viewer(), where=where)


def reveal_page(
    events: Sequence[RecordedEvent], *, where: str
) -> tuple[list[RecordedEvent], Showing | None]:
    """`reveal`, and what it takes to show the same page again (`keep_page`)."""
    return personal.reveal_page(get_runtime(), events, current_viewer(), where=where)


def _slot(request_key: tuple[Any, ...]) -> tuple[PageCache, Viewer, tuple[Any, ...]] | None:
    """The page cache, the signed-in reader and the key of this request for readers who see
    personal data as they do; None when no page is kept for them (no cache, or a reader
    whose own reveals decide what they see)."""
    pages: PageCache | None = current_app.extensions.get(PAGES_KEY)
    viewer = current_viewer()
    if pages is None or not viewer.logs_each_view:
        return None
    return pages, viewer, (viewer.sees_personal_data, *request_key)


def page_again(request_key: tuple[Any, ...], *, where: str) -> Response | None:
    """The reply `keep_page` kept for this request and readers of this role, shown again to
    the signed-in account (its plaintext logged as `where`, as decoding it would be); None
    when none is kept or a forget since made it stale."""
    slot = _slot(request_key)
    if slot is None:
        return None
    pages, viewer, key = slot
    kept = pages.get(key)
    if kept is None:
        return None
    if not personal.show_again(get_runtime(), kept.showing, viewer, where=where):
        pages.discard(key, kept)
        return None
    reply = current_app.response_class(kept.body, mimetype="application/json")
    for name, value in kept.headers:
        reply.headers[name] = value
    return reply


def keep_page(
    request_key: tuple[Any, ...], reply: Response, showing: Showing | None, *headers: str
) -> Response:
    """Keep `reply`, the reply of a full page of events (one that never changes), for the same
    request by readers of the same role (`page_again`), with its `headers` named; `showing`
    None (a page that cannot be shown again) keeps nothing."""
    if showing is not None and (slot := _slot(request_key)) is not None:
        pages, _viewer, key = slot
        kept = tuple((name, reply.headers[name]) for name in headers)
        pages.put(key, CachedPage(reply.get_data(), kept, showing))
    return reply


def check_store_answers() -> None:
    """Read the head of the global log; a store that does not answer raises as any read does
    (the web layer answers 503)."""
    head_position(get_runtime())


# --- commands ---------------------------------------------------------------------------------


def dispatch(
    name: str,
    data: dict[str, Any],
    *,
    account: Account | None,
    consistency: str = "eventual",
    idempotency_key: str | None = None,
) -> Any:
    """Dispatch command `name` with `data` as `account`; returns the router's DispatchResult.

    With `consistency="strong"` it returns once the projections have seen the new events
    and the store's index tables hold them.
    An `idempotency_key` (a console form's one-time id, an API client's key) becomes the
    command's command_id: sent again, the command is not run again and the result of the
    first dispatch comes back with `duplicate` set (the store knows, in every process).
    """
    metrics = current_app.extensions["eventscope_metrics"]
    started = time.perf_counter()
    label, outcome = "error", None
    metadata: dict[str, Any] = {"actor": _actor(account)}
    if idempotency_key:
        metadata["command_id"] = idempotency_key
    try:
        outcome = get_runtime().router.dispatch_json(name, data, metadata=metadata)
        label = "ok"
    except Exception as exc:
        refusal = _refusal_for(exc)
        if refusal is None:
            raise
        label = refusal[0]
        raise RequestRefused(refusal[1], refusal[2], code=refusal[3]) from exc
    finally:
        stored = outcome is not None and not getattr(outcome, "duplicate", False)
        count = len(outcome.events) if stored else 0  # a repeat stores nothing
        metrics.observe_command(name, label, time.perf_counter() - started, count)
        current_app.extensions["eventscope_command_tally"].count(label)
    if consistency == "strong" and outcome.events:
        _wait_for_projections(outcome.events)
    return outcome


def _refusal_for(exc: Exception) -> tuple[str, int, str, str] | None:
    """(metrics outcome, HTTP status, message, code) for an expected refusal, else None."""
    if isinstance(exc, CommandValidationError):
        return "invalid", 400, exc.message, exc.code
    if isinstance(exc, ConcurrencyError):
        return "conflict", 409, exc.message, exc.code
    if isinstance(exc, DomainError):
        return "rejected", 422, exc.message, exc.code
    if isinstance(exc, WrongExpectedVersion):
        return "conflict", 409, str(exc), "wrong_expected_version"
    if isinstance(exc, UnicodeError):  # a lone surrogate: say so in words, not codec text
        message = "a text field holds characters that are not valid Unicode"
        return "invalid", 400, message, "invalid_input"
    if isinstance(exc, InvalidAppend | ValueError):
        return "invalid", 400, str(exc), "invalid_input"
    return None


CONSISTENCY_TIMEOUT = 5.0
"""Seconds a `"consistency": "strong"` command waits for its read models (app config
`CONSISTENCY_TIMEOUT` overrides it)."""


def _wait_for_projections(events: Sequence[RecordedEvent]) -> None:
    """Return once the index tables hold `events` and the projections handling them have
    processed them (504 on timeout)."""
    timeout = float(current_app.config.get("CONSISTENCY_TIMEOUT", CONSISTENCY_TIMEOUT))
    runtime = get_runtime()
    runtime.store.wait_until_indexed(events[-1].position)
    projections = runtime.projections
    names = projections.names_handling({event.type for event in events})
    try:
        projections.wait_until_projected(events[-1].position, names, timeout)
    except ConsistencyTimeout as exc:
        raise RequestRefused(504, str(exc), code="consistency_timeout") from exc


# --- subjects ---------------------------------------------------------------------------------


@contextmanager
def _privacy_refusals() -> Iterator[None]:
    try:
        yield
    except AccessDenied as exc:
        raise RequestRefused(403, str(exc), code="access_denied") from exc
    except ValueError as exc:
        raise RequestRefused(400, str(exc), code="invalid_input") from exc


def export_subject(subject_id: str, account: Account | None, purpose: str = "") -> dict[str, Any]:
    """Everything held on a subject, decrypted (logged by the privacy layer with `purpose`)."""
    with _privacy_refusals():
        return get_runtime().privacy.export(
            subject_id, actor=_actor(account), role=_role(account), purpose=purpose
        )


def reveal_subject(
    subject_id: str,
    account: Account | None,
    *,
    purpose: str,
    field: str | None = None,
    minutes: int | None = None,
) -> Any:
    """Show a subject's personal data (or one field) to `account` for a while, on purpose
    (support/admin; logged once with the purpose)."""
    with _privacy_refusals():
        return get_runtime().privacy.reveal(
            subject_id,
            actor=_actor(account),
            role=_role(account),
            purpose=purpose,
            field=field,
            minutes=minutes,
        )


def forget_subject(subject_id: str, reason: str, account: Account | None) -> dict[str, Any]:
    """Crypto-shred a subject; returns what was done (idempotent)."""
    with _privacy_refusals():
        result = get_runtime().privacy.forget(
            subject_id, reason=reason, actor=_actor(account), role=_role(account)
        )
    return result.as_dict()


def reregister_subject(subject_id: str, reason: str, account: Account | None) -> dict[str, Any]:
    """Let a forgotten subject hold personal data again, under a new key (admin; audited)."""
    with _privacy_refusals():
        status = get_runtime().privacy.reregister(
            subject_id, reason=reason, actor=_actor(account), role=_role(account)
        )
    return status.as_dict()


def find_subjects_by_email(email: str) -> list[dict[str, Any]]:
    """The subjects who used this e-mail address, with their status (blind index; logged)."""
    with _privacy_refusals():
        found = subjects.subjects_with_email(get_runtime(), email, current_viewer())
    return [status.as_dict() for status in found]


def subject_status(subject_id: str) -> dict[str, Any]:
    """Whether the subject is active or forgotten, and when, why and by whom (no personal data)."""
    with _privacy_refusals():
        status = subjects.subject_status_of(get_runtime(), subject_id)
    if status.state == "unknown":
        abort(404, description=f"no subject {subject_id!r}")
    return status.as_dict()


def access_log_page(before: int | None, limit: int, **filters: Any) -> dict[str, Any]:
    """One page of the PII access log, newest first, and the cursor of the next page."""
    page = audit.access_log_page(get_runtime(), before=before, limit=limit, **filters)
    return {"entries": [entry.as_dict() for entry in page.entries], "next": page.next}


# --- projections and read models --------------------------------------------------------------


def rebuild_projection(name: str) -> dict[str, Any]:
    """Ask the worker to rebuild projection `name` from position 0; returns its status
    (409 while a preview is held)."""
    try:
        return dict(get_runtime().projections.request_rebuild(name))
    except UnknownProjection:
        abort(404, description=f"no projection {name!r}")
    except ControlRefused as refused:
        abort(409, description=str(refused))


def resume_projection(name: str, account: Account | None, skip_position: int | None) -> dict:
    """Ask the worker to retry (or skip) the event stopped unit `name` stopped at."""
    actor = account.name if account is not None else "unknown"
    try:
        return dict(
            get_runtime().projections.request_resume(name, actor=actor, skip_position=skip_position)
        )
    except UnknownProjection:
        abort(404, description=f"no projection or process manager {name!r}")
    except ResumeRefused as refused:
        abort(409, description=str(refused))


# --- operator controls over projections and process managers (admin) ------------------------


def _operator(account: Account | None) -> str:
    return account.name if account is not None else "unknown"


@contextmanager
def _controls_refused() -> Iterator[None]:
    """A control's refusal as a status: 404 unknown unit or no such parked event, 400 a
    position outside the log, 409 a state the control does not apply to."""
    try:
        yield
    except NotParked as missing:
        abort(404, description=str(missing.args[0]))
    except UnknownProjection:
        abort(404, description="no projection or process manager of that name")
    except InvalidPosition as bad:
        abort(400, description=str(bad))
    except (ControlRefused, ResumeRefused) as refused:
        abort(409, description=str(refused))


def pause_unit(name: str, account: Account | None) -> dict[str, Any]:
    """Pause projection or process manager `name`; its status."""
    with _controls_refused():
        return dict(get_runtime().projections.pause(name, actor=_operator(account)))


def reset_projection(name: str, account: Account | None, position: int) -> dict[str, Any]:
    """Replay projection `name` from the events after `position` into a new generation."""
    with _controls_refused():
        return dict(
            get_runtime().projections.request_reset(name, position, actor=_operator(account))
        )


def request_preview(name: str, account: Account | None) -> dict[str, Any]:
    """Ask the worker to build projection `name`'s next generation and hold it for preview."""
    with _controls_refused():
        return dict(get_runtime().projections.request_preview(name, actor=_operator(account)))


MAX_PREVIEW_KEY = 1000


def preview_after(text: str | None, table: str | None) -> list[Any] | None:
    """The `after` of a preview page: a JSON array of key values (a row's `next_after`),
    or None; 400 when it is not one or names no table."""
    if not text:
        return None
    if table is None:
        abort(400, description="'after' pages one table: give 'table' as well")
    try:
        values = json.loads(text) if len(text) <= MAX_PREVIEW_KEY else None
    except ValueError:
        values = None
    ok = isinstance(values, list) and 0 < len(values) <= 8
    if not ok or not all(isinstance(v, str | int | float) for v in values):
        abort(400, description="'after' must be a JSON array of key values (a 'next_after')")
    return values


def rebuild_preview(
    name: str, *, table: str | None = None, after: list[Any] | None = None, limit: int = 50
) -> dict[str, Any]:
    """The held preview of `name` against the live generation, as the signed-in reader may
    see it (404 unknown projection, 409 none held or not started, 400 unknown table)."""
    with _controls_refused():
        try:
            return rebuild_preview_for(
                get_runtime(), current_viewer(), name, table=table, after=after, limit=limit
            )
        except ControlRefused:
            raise  # 409 (a ValueError as well)
        except ValueError as bad:
            abort(400, description=str(bad))


def preview_state(name: str) -> dict[str, Any] | None:
    """The preview of `name` (generation, positions, caught up, decision), or None."""
    with _controls_refused():
        return get_runtime().projections.preview_state(name)


def decide_preview(name: str, action: str, account: Account | None) -> dict[str, Any]:
    """Ask for the held preview of `name` to be switched in or discarded (409 when none is
    held, it has not caught up for a switch, or a decision already waits)."""
    with _controls_refused():
        return dict(
            get_runtime().projections.decide_preview(name, action, actor=_operator(account))
        )


def dead_letters(name: str, *, after: int, limit: int) -> list[dict[str, Any]]:
    """The events unit `name` parked, oldest first, after position `after`."""
    with _controls_refused():
        return get_runtime().projections.dead_letters(name, after=after, limit=limit)


def retry_parked(name: str, position: int, account: Account | None) -> dict[str, Any]:
    """Ask the worker to apply parked event `position` of `name` again; the letter."""
    projections = get_runtime().projections
    with _controls_refused():
        projections.retry_parked(name, position, actor=_operator(account))
    letters = projections.dead_letters(name, after=position - 1, limit=1)
    return letters[0] if letters and letters[0]["position"] == position else {}


def skip_parked(name: str, position: int, account: Account | None) -> dict[str, Any]:
    """Drop parked event `position` of `name` from its dead letters, unapplied; the letter."""
    with _controls_refused():
        return get_runtime().projections.skip_parked(name, position, actor=_operator(account))


def operator_log(name: str, limit: int) -> list[dict[str, Any]]:
    """Who paused, resumed, reset, retried or skipped what on unit `name`, newest first."""
    with _controls_refused():
        return get_runtime().projections.operator_log(name, limit)


def account_summary(account_number: str, position: int | None = None) -> dict[str, Any]:
    """The account-summary read model row (balance, status, owner); with `position`, the row
    as it stood at that global position, rebuilt from the log, plus `"position"`."""
    if position is None:
        row = read_account_summary(get_runtime(), account_number)
        if row is None:
            abort(404, description=f"no account {account_number!r} in the account summary")
        return row
    try:
        row = account_summary_at(get_runtime(), account_number, position)
    except ReplayRefused as refused:
        abort(409, description=f"the account summary cannot be rebuilt at {position}: {refused}")
    except CopyBusy as busy:
        abort(503, description=str(busy))
    if row is None:
        abort(
            404,
            description=f"no account {account_number!r} in the account summary at position "
            f"{position}",
        )
    return {**row, "position": position}


def _actor(account: Account | None) -> str:
    return account.name if account else "anonymous"


def _role(account: Account | None) -> str:
    return account.role if account else "viewer"
