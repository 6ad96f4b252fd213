"""The JSON API as an OpenAPI 3.1 document, generated from the app (served at `/api/openapi.json`).

Built with apispec (the document's builder) from the code itself: every `/api/...` rule
of the app's url_map becomes an operation, with its path parameters from the rule's
converters, its summary and description from the view's docstring, its security from
`requires_role` / `public` (the role is `x-role`), and a 404 for the routes marked
`needs_domain` (not available over another tool's store). What a rule cannot say (query
parameters with their bounds, the request body, the reply's schema and the statuses a
refusal may take) is declared here once per endpoint, with the bounds taken from the
views' own constants.
"""

from __future__ import annotations

import inspect
import re
from typing import Any

from apispec import APISpec
from flask import Flask
from werkzeug.routing import Rule

from webapp.privacy.access_log import ACTIONS
from webapp.privacy.access_log import MAX_PAGE as MAX_ACCESS_LOG_PAGE
from webapp.web.access import PUBLIC_ROLE, ROLE_ATTRIBUTE
from webapp.web.accounts import ROLES
from webapp.web.context import NEEDS_DOMAIN_ATTRIBUTE
from webapp.web.numbers import MAX_INTEGER
from webapp.web.views.api import DEFAULT_LIMIT, MAX_EMAIL, MAX_LIMIT, MAX_REASON, MAX_TYPES
from webapp.web.views.api_accounts import TOKEN_STATES

API_PREFIX = "/api/"
OPERATOR_LOG_LIMIT = 50
"""The default page of `GET /api/projections/<name>/operator-log`."""
TEXT_ARG_LENGTH = 200
"""As `str_arg` allows."""

# --- schemas ----------------------------------------------------------------------------------


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _nullable(kind: str, **more: Any) -> dict[str, Any]:
    return {"type": [kind, "null"], **more}


def _object(properties: dict[str, Any], *, closed: bool = False) -> dict[str, Any]:
    """An object with every listed property required; `closed` allows no others."""
    schema: dict[str, Any] = {
        "type": "object",
        "properties": properties,
        "required": list(properties),
    }
    if closed:
        schema["additionalProperties"] = False
    return schema


def _page(key: str, item: dict[str, Any], cursor: dict[str, Any]) -> dict[str, Any]:
    return _object({key: {"type": "array", "items": item}, "next": cursor}, closed=True)


TIME = {"type": "string", "format": "date-time"}
COUNT = {"type": "integer", "minimum": 0}
VERSION = {"type": "integer", "minimum": 0}

SCHEMAS: dict[str, dict[str, Any]] = {
    "Error": {
        **_object({"error": {"type": "string"}}),
        "description": "Every refusal: the reason in words; a domain refusal adds `code`.",
        "properties": {"error": {"type": "string"}, "code": {"type": "string"}},
    },
    "Health": _object({"status": {"const": "ok"}}, closed=True),
    "Ready": _object({"status": {"const": "ready"}}, closed=True),
    "CommandRequest": {
        "type": "object",
        "example": {"command": "DepositMoney", "data": {"account_number": "A-100", "amount": 250}},
        "properties": {
            "command": {"type": "string", "minLength": 1, "description": "a command name"},
            "data": {"type": "object", "description": "the command's fields"},
            "consistency": {
                "enum": ["eventual", "strong"],
                "default": "eventual",
                "description": "`strong` returns once the projections have seen the events",
            },
            "idempotency_key": {
                "type": "string",
                "pattern": "^[A-Za-z0-9_-]{16,128}$",
                "description": "the command's command_id: sent again, nothing new is stored"
                " and the first reply comes back with the header Idempotent-Replayed: true",
            },
        },
        "required": ["command"],
    },
    "NewEvent": _object(
        {
            "type": {"type": "string"},
            "stream_version": VERSION,
            "data": {"type": "object"},
            "metadata": {"type": "object"},
        },
        closed=True,
    ),
    "CommandReply": _object(
        {
            "stream_id": {"type": "string"},
            "version": VERSION,
            "events": {"type": "array", "items": _ref("NewEvent")},
        },
        closed=True,
    ),
    "Stream": _object(
        {
            "stream_id": {"type": "string"},
            "version": VERSION,
            "type": _nullable("string"),
            "updated_at": TIME,
        },
        closed=True,
    ),
    "StreamPage": _page("streams", _ref("Stream"), _nullable("string")),
    "Event": _object(
        {
            "position": {"type": "integer", "minimum": 1},
            "stream_id": {"type": "string"},
            "stream_version": VERSION,
            "type": {"type": "string"},
            "data": {"type": "object"},
            "metadata": {"type": "object"},
            "recorded_at": TIME,
            "occurred_at": _nullable("string", format="date-time"),
            "event_id": {"type": "string"},
            "schema_version": {"type": "integer"},
        },
        closed=True,
    ),
    "EventPage": _page("events", _ref("Event"), _nullable("integer")),
    "State": {
        **_object(
            {"stream_id": {"type": "string"}, "version": VERSION, "state": {"type": "object"}}
        ),
        "description": "Over another tool's store also `kind`, `snapshot` and `set_at`.",
    },
    "SubjectStatus": _object(
        {
            "subject_id": {"type": "string"},
            "state": {"enum": ["active", "forgotten", "unknown"]},
            "forgotten_at": _nullable("string", format="date-time"),
            "forgotten_reason": _nullable("string"),
            "forgotten_by": _nullable("string"),
        },
        closed=True,
    ),
    "SubjectList": _object(
        {"subjects": {"type": "array", "items": _ref("SubjectStatus")}}, closed=True
    ),
    "EmailLookup": _object(
        {"email": {"type": "string", "format": "email", "maxLength": MAX_EMAIL}}
    ),
    "Reason": _object({"reason": {"type": "string", "minLength": 1, "maxLength": MAX_REASON}}),
    "OptionalReason": {
        "type": "object",
        "properties": {"reason": {"type": "string", "maxLength": MAX_REASON}},
    },
    "SubjectExport": {
        **_object(
            {
                "subject_id": {"type": "string"},
                "exported_at": TIME,
                "exported_by": {"type": "string"},
                "status": {"type": "string"},
                "events": {"type": "array", "items": {"type": "object"}},
            }
        ),
        "description": "Everything held on the subject, decrypted.",
    },
    "ForgetResult": _object(
        {
            "subject_id": {"type": "string"},
            "forgotten_at": TIME,
            "newly_forgotten": {"type": "boolean"},
            "streams": {"type": "array", "items": {"type": "string"}},
            "snapshots_deleted": COUNT,
            "aggregates_evicted": COUNT,
            "files_scrubbed": {"type": "boolean"},
            "held_data": {"type": "boolean"},
        },
        closed=True,
    ),
    "AccessLogEntry": _object(
        {
            "id": {"type": "integer"},
            "at": TIME,
            "actor": {"type": "string"},
            "action": {"enum": list(ACTIONS)},
            "subject_id": {"type": "string"},
            "what": {"type": "string"},
            "purpose": {"type": "string"},
        },
        closed=True,
    ),
    "AccessLogPage": _page("entries", _ref("AccessLogEntry"), _nullable("integer")),
    "ProjectionStatus": {
        **_object(
            {
                "name": {"type": "string"},
                "kind": {"type": "string"},
                "state": {"type": "string"},
                "position": {"type": "integer", "minimum": 0},
            }
        ),
        "description": "Also head, lag, errors, pause, dead letters, generation, rebuild.",
    },
    "ProjectionList": _object(
        {"projections": {"type": "array", "items": _ref("ProjectionStatus")}}, closed=True
    ),
    "ResumeRequest": {
        "type": "object",
        "properties": {"skip_position": {"type": "integer", "minimum": 1, "maximum": MAX_INTEGER}},
        "additionalProperties": False,
    },
    "ResetRequest": {
        **_object({"position": {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER}}),
        "additionalProperties": False,
    },
    "DeadLetter": {
        "type": "object",
        "properties": {"position": {"type": "integer", "minimum": 1}},
    },
    "DeadLetterPage": _page("dead_letters", _ref("DeadLetter"), _nullable("integer")),
    "DeadLetterReply": _object({"dead_letter": _ref("DeadLetter")}, closed=True),
    "OperatorLog": _object(
        {"actions": {"type": "array", "items": {"type": "object"}}}, closed=True
    ),
    "AccountRow": {
        "type": "object",
        "description": "The account-summary read model row (balance, status, owner).",
        "properties": {
            "account_number": {"type": "string"},
            "balance": {"type": "integer"},
            "position": {
                "type": "integer",
                "description": "only when asked with `position` or `as_of`: the moment answered",
            },
        },
    },
    "ReadModelPage": _object(
        {
            "read_model": {"type": "string"},
            "position": {
                "type": "integer",
                "minimum": 0,
                "description": "the moment the rows reflect: pass it back with `after`",
            },
            "as_of": {
                "type": "string",
                "description": "the time that position reflects and its clock, e.g. "
                "`2026-11-30T23:59:59Z (recorded)`",
            },
            "rows": {"type": "array", "items": {"type": "object"}},
            "next": _nullable("string", description="the last key of the page while more follow"),
        },
        closed=True,
    ),
    "StaffAccount": _object(
        {
            "name": {"type": "string"},
            "role": {"enum": list(ROLES)},
            "state": {"type": "string"},
            "created_at": TIME,
            "has_password": {"type": "boolean"},
            "disabled_at": _nullable("string", format="date-time"),
            "active_tokens": COUNT,
            "last_used_at": _nullable("string", format="date-time"),
            "last_sign_in_at": _nullable("string", format="date-time"),
        },
        closed=True,
    ),
    "StaffAccountList": _page("accounts", _ref("StaffAccount"), {"type": "null"}),
    "StaffAccountReply": _object({"account": _ref("StaffAccount")}, closed=True),
    "RoleRequest": _object({"role": {"enum": list(ROLES)}}),
    "AccountChange": _object(
        {
            "id": {"type": "integer"},
            "at": TIME,
            "actor": {"type": "string"},
            "action": {"type": "string"},
            "account": {"type": "string"},
            "detail": _nullable("string"),
        },
        closed=True,
    ),
    "AccountChangePage": _page("changes", _ref("AccountChange"), _nullable("integer")),
    "SignIn": _object(
        {
            "id": {"type": "integer"},
            "at": TIME,
            "account": _nullable("string"),
            "method": {"type": "string"},
            "outcome": {"type": "string"},
            "address": _nullable("string"),
            "browser": _nullable("string"),
        },
        closed=True,
    ),
    "SignInPage": _page("sign_ins", _ref("SignIn"), _nullable("integer")),
    "Token": _object(
        {
            "id": {"type": "integer"},
            "account": {"type": "string"},
            "starts_with": {"type": "string"},
            "state": {"type": "string"},
            "created_at": TIME,
            "last_used_at": _nullable("string", format="date-time"),
            "expires_at": _nullable("string", format="date-time"),
            "revoked_at": _nullable("string", format="date-time"),
        },
        closed=True,
    ),
    "TokenList": _page("tokens", _ref("Token"), {"type": "null"}),
    "TokenReply": _object({"token": _ref("Token")}, closed=True),
    "OpenAPIDocument": {"type": "object", "required": ["openapi", "paths"]},
}

# --- query parameters -------------------------------------------------------------------------


def _query(name: str, schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    parameter = {"name": name, "in": "query", "required": False, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter


def _int(name: str, description: str, *, minimum: int, maximum: int = MAX_INTEGER, **more: Any):
    schema = {"type": "integer", "minimum": minimum, "maximum": maximum, **more}
    return _query(name, schema, description)


def _text(name: str, description: str = "") -> dict[str, Any]:
    return _query(name, {"type": "string", "maxLength": TEXT_ARG_LENGTH}, description)


def _limit(maximum: int = MAX_LIMIT, default: int = DEFAULT_LIMIT) -> dict[str, Any]:
    return _int("limit", "page size", minimum=1, maximum=maximum, default=default)


TIME_RANGE = [
    _text("since", "ISO 8601 date or date-time (naive means UTC), inclusive"),
    _text("until", "ISO 8601 date or date-time (naive means UTC), exclusive"),
]

AS_OF = [
    _int(
        "position",
        "the read model as it stood at this global position (0: before the first event; at "
        "most the head), rebuilt from the log",
        minimum=0,
    ),
    _text("as_of", "ISO 8601 (naive means UTC): as it stood at the last event at or before it"),
    _query(
        "clock",
        {"type": "string", "enum": ["recorded", "happened"], "default": "recorded"},
        "which time `as_of` reads: when events were recorded, or when they happened",
    ),
]

# --- what each endpoint declares beyond its rule ----------------------------------------------


def _body(schema: str, *, required: bool = True) -> dict[str, Any]:
    return {
        "required": required,
        "content": {"application/json": {"schema": _ref(schema)}},
    }


ENDPOINTS: dict[str, dict[str, Any]] = {
    "api.health": {"reply": "Health"},
    "api.ready": {"reply": "Ready"},
    "api.openapi_document": {"reply": "OpenAPIDocument"},
    "api.dispatch_command": {
        "body": _body("CommandRequest"),
        "status": 201,
        "reply": "CommandReply",
        "refusals": [409, 422, 504],
    },
    "api.list_streams": {
        "query": [
            _text("prefix", "only stream ids starting with this"),
            _text("after", "the previous page's `next`"),
            _limit(),
        ],
        "reply": "StreamPage",
    },
    "api.stream_events": {
        "query": [_int("from_version", "first stream version", minimum=1, default=1), _limit()],
        "reply": "EventPage",
    },
    "api.stream_state": {
        "query": [_int("version", "the version (default: the latest)", minimum=1)],
        "reply": "State",
    },
    "api.global_events": {
        "query": [
            _int("after", "the previous page's `next` (a position)", minimum=0, default=0),
            {
                **_query(
                    "type",
                    {
                        "type": "array",
                        "items": {"type": "string", "maxLength": TEXT_ARG_LENGTH},
                        "maxItems": MAX_TYPES,
                    },
                    "event types (repeat for several)",
                ),
                "style": "form",
                "explode": True,
            },
            _text("correlation_id"),
            _query(
                "correlation_prefix",
                {"type": "string", "minLength": 8, "maxLength": TEXT_ARG_LENGTH},
                "the beginning of a correlation id, 8 characters or more (the short id pages"
                " show): every id that starts so",
            ),
            _text("stream_prefix"),
            _text("actor"),
            *TIME_RANGE,
            _query(
                "clock",
                {"type": "string", "enum": ["recorded", "happened"], "default": "recorded"},
                "which time `since`/`until` read: when events were recorded, or when they "
                "happened (`occurred_at`, else recorded)",
            ),
            _text("data", "`field=value`: a top-level payload field compared as text"),
            _limit(),
        ],
        "reply": "EventPage",
    },
    "api.find_subjects_in_url": {
        "reply": None,
        "description": "Always refused with 400: use `POST /api/subjects/lookup`.",
    },
    "api.find_subjects": {"body": _body("EmailLookup"), "reply": "SubjectList"},
    "api.subject_status": {"reply": "SubjectStatus"},
    "api.export_subject": {
        "query": [_text("purpose", "the request this export answers (kept in the access log)")],
        "reply": "SubjectExport",
    },
    "api.forget_subject": {"body": _body("Reason"), "reply": "ForgetResult"},
    "api.reregister_subject": {
        "body": _body("Reason"),
        "reply": "SubjectStatus",
        "refusals": [409],
    },
    "api.access_log": {
        "query": [
            _text("actor"),
            _text("subject_id"),
            _query("action", {"enum": list(ACTIONS)}),
            _text("purpose", "entries whose purpose contains this text (any case)"),
            *TIME_RANGE,
            _int("before", "the previous page's `next` (an entry id)", minimum=1),
            _limit(MAX_ACCESS_LOG_PAGE),
        ],
        "reply": "AccessLogPage",
    },
    "api.projections": {"reply": "ProjectionList"},
    "api.rebuild_projection": {"status": 202, "reply": "ProjectionStatus", "refusals": [409]},
    "api.resume_projection": {
        "body": _body("ResumeRequest", required=False),
        "status": 202,
        "reply": "ProjectionStatus",
        "refusals": [409],
    },
    "api.pause_projection": {"status": 202, "reply": "ProjectionStatus", "refusals": [409]},
    "api.reset_projection": {
        "body": _body("ResetRequest"),
        "status": 202,
        "reply": "ProjectionStatus",
        "refusals": [409],
    },
    "api.dead_letters": {
        "query": [_int("after", "the previous page's `next`", minimum=0, default=0), _limit()],
        "reply": "DeadLetterPage",
    },
    # no such parked event: 404 (the route has arguments); a position that is no number: 400
    "api.retry_dead_letter": {"status": 202, "reply": "DeadLetterReply"},
    "api.skip_dead_letter": {"reply": "DeadLetterReply"},
    "api.operator_log": {
        "query": [_limit(MAX_LIMIT, OPERATOR_LOG_LIMIT)],
        "reply": "OperatorLog",
    },
    "api.read_account": {"reply": "AccountRow", "query": AS_OF, "refusals": [409]},
    "api.read_model_page": {
        "reply": "ReadModelPage",
        "query": [*AS_OF, _text("after", "the previous page's `next`"), _limit()],
        "refusals": [409],
    },
    "api_accounts.list_accounts": {"reply": "StaffAccountList"},
    "api_accounts.account_changes": {
        "query": [
            _text("account"),
            _int("before", "the previous page's `next`", minimum=1),
            _limit(),
        ],
        "reply": "AccountChangePage",
    },
    "api_accounts.sign_ins": {
        "query": [
            _text("account"),
            _query("outcome", {"enum": ["signed-in", "refused"]}),
            *TIME_RANGE,
            _int("before", "the previous page's `next`", minimum=1),
            _limit(),
        ],
        "reply": "SignInPage",
    },
    "api_accounts.change_role": {
        "body": _body("RoleRequest"),
        "reply": "StaffAccountReply",
        "refusals": [404, 409],
    },
    "api_accounts.disable_account": {
        "body": _body("OptionalReason", required=False),
        "reply": "StaffAccountReply",
        "refusals": [404, 409],
    },
    "api_accounts.enable_account": {
        "body": _body("OptionalReason", required=False),
        "reply": "StaffAccountReply",
        "refusals": [404, 409],
    },
    "api_accounts.sign_out_account": {"reply": "StaffAccountReply", "refusals": [404, 409]},
    "api_accounts.list_tokens": {
        "query": [_text("account"), _query("state", {"enum": list(TOKEN_STATES)})],
        "reply": "TokenList",
        "refusals": [404],
    },
    "api_accounts.revoke_token": {"reply": "TokenReply", "refusals": [404, 409]},
}

REASONS = {
    400: "Bad request: a malformed parameter or body (nothing was changed)",
    401: "No valid credentials (send `Authorization: Bearer TOKEN`)",
    403: "The account's role is too low for this route",
    404: "Not found (over another tool's store: not available)",
    409: "Conflict with the current state (nothing was changed)",
    422: "A business rule refused the command (nothing was appended)",
    503: "The event store did not answer; retry after `Retry-After` seconds",
    504: "The projections did not catch up in time (the events were appended)",
}

# --- the document -----------------------------------------------------------------------------


class UndeclaredEndpoint(LookupError):
    """An `/api/...` route with no entry in ENDPOINTS (its reply would go undocumented)."""


def api_rules(app: Flask) -> list[Rule]:
    """The app's JSON API routes."""
    return [rule for rule in app.url_map.iter_rules() if rule.rule.startswith(API_PREFIX)]


def api_document(app: Flask) -> dict[str, Any]:
    """The OpenAPI 3.1 document of `app`'s `/api/...` routes (built once per app)."""
    cached = app.extensions.get("eventscope_openapi")
    if cached is None:
        cached = app.extensions["eventscope_openapi"] = _build(app)
    return cached


def _build(app: Flask) -> dict[str, Any]:
    spec = APISpec(
        title="eventscope JSON API",
        version="1",
        openapi_version="3.1.0",
        info={
            "description": 'See docs/web.md. Errors are `{"error": ...}` with a 4xx status; '
            "a refused request appends nothing. A browser session may call the API too, "
            "with the `X-CSRFToken` header on state-changing requests."
        },
    )
    spec.components.security_scheme("bearer", {"type": "http", "scheme": "bearer"})
    for name, schema in SCHEMAS.items():
        spec.components.schema(name, schema)
    with app.test_request_context():
        for rule in sorted(api_rules(app), key=lambda rule: rule.rule):
            view = app.view_functions[rule.endpoint]
            methods = sorted((rule.methods or set()) - {"HEAD", "OPTIONS"})
            operations = {
                method.lower(): _operation(rule, view, method, _declared(rule.endpoint))
                for method in methods
            }
            spec.path(path=openapi_path(rule), operations=operations)
    return spec.to_dict()


def openapi_path(rule: Rule) -> str:
    """The rule's path in OpenAPI's notation: `/api/streams/<id:stream_id>/state` ->
    `/api/streams/{stream_id}/state`."""
    return _RULE_ARGUMENT.sub(lambda found: "{" + found.group(1) + "}", rule.rule)


_FIRST_SENTENCE = re.compile(r".+?(\.(?=\s)|$)")
_RULE_ARGUMENT = re.compile(r"<(?:[^<>:]+:)?([^<>:]+)>")


def _declared(endpoint: str) -> dict[str, Any]:
    try:
        return ENDPOINTS[endpoint]
    except KeyError:
        raise UndeclaredEndpoint(f"{endpoint} is not declared in webapp.web.openapi") from None


def _operation(rule: Rule, view: Any, method: str, declared: dict[str, Any]) -> dict[str, Any]:
    role = getattr(view, ROLE_ATTRIBUTE, None)
    doc = " ".join((inspect.getdoc(view) or "").split())
    summary = _FIRST_SENTENCE.match(doc)
    operation: dict[str, Any] = {
        "operationId": rule.endpoint.replace(".", "_"),
        "summary": summary.group(0).rstrip(". ") if summary else rule.endpoint,
        "tags": [rule.endpoint.partition(".")[0]],
        "parameters": [*_path_parameters(rule), *declared.get("query", [])],
    }
    description = " ".join(part for part in (doc, declared.get("description", "")) if part)
    if description:
        operation["description"] = description
    if "body" in declared:
        operation["requestBody"] = declared["body"]
    refusals = {400, 503, *declared.get("refusals", [])}
    if role is None or role == PUBLIC_ROLE:
        operation["security"] = []
    else:
        operation["security"] = [{"bearer": []}]
        operation["x-role"] = role
        refusals |= {401, 403}
    if rule.arguments or getattr(view, NEEDS_DOMAIN_ATTRIBUTE, False):
        refusals.add(404)
    responses: dict[str, Any] = {}
    if declared["reply"] is not None:
        responses[str(declared.get("status", 200))] = {
            "description": "Done",
            "content": {"application/json": {"schema": _ref(declared["reply"])}},
        }
    for status in sorted(refusals):
        responses[str(status)] = {
            "description": REASONS[status],
            "content": {"application/json": {"schema": _ref("Error")}},
        }
    operation["responses"] = responses
    return operation


def _path_parameters(rule: Rule) -> list[dict[str, Any]]:
    parameters = []
    for name, converter in rule._converters.items():
        if type(converter).__name__ == "IntegerConverter":
            schema: dict[str, Any] = {"type": "integer", "minimum": 0}
            if converter.max is not None:
                schema["maximum"] = converter.max
        else:
            schema = {"type": "string", "minLength": 1}
        parameters.append({"name": name, "in": "path", "required": True, "schema": schema})
    return parameters
