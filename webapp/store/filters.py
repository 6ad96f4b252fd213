"""The global-log filters, declared once (`LogFilters`), and the SQL where clause they make."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Final, TypedDict


class LogFilters(TypedDict, total=False):
    """The filters of `read_all` and `read_all_backward`, all matched together (None: off).

    >>> store.read_all(0, limit=50, types=["MoneyDeposited"], actor="ann")  # doctest: +SKIP
    """

    types: Sequence[str] | str | None
    """Event types to keep: one type, or several (an empty list keeps nothing)."""
    stream_prefix: str | None
    """Keep events of streams whose id starts with this."""
    correlation_id: str | None
    correlation_prefix: str | None
    """Keep events whose correlation id starts with this, at least MIN_ID_PREFIX characters
    (the short ids the dashboard shows): an index range on the correlation id."""
    actor: str | None
    since: datetime | None
    """Recorded at or after this time (naive times are UTC)."""
    until: datetime | None
    """Recorded before this time (naive times are UTC)."""
    occurred_since: datetime | None
    """Happened at or after this time: the `occurred_at` column, the metadata's business
    time or else the recorded time (webapp.store.business_time); naive times are UTC."""
    occurred_until: datetime | None
    """Happened before this time (naive times are UTC)."""
    data_equals: tuple[str, str] | None
    """(field, text): the data's top-level `field` written as `text` (`10023` matches the
    number and the string). No index serves it: a rare value scans the log, narrowed by
    the other filters."""
    older_schemas: Mapping[str, int] | None
    """{type: version}, with `data_equals`: also keep, whatever their data, events of those
    types stored under a schema below `version` (the caller upcasts and matches them)."""


LOG_FILTERS: Final = frozenset(LogFilters.__optional_keys__)
"""The names of the global-log filters."""

DATA_FIELD_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")
MIN_ID_PREFIX: Final = 8
"""The shortest id prefix a filter takes: the 8 characters the dashboard shows of an id."""

TimeParam = Callable[[datetime], Any]
"""A backend's form of a time as a query parameter."""
FieldEquals = Callable[[str, str], tuple[str, list[Any]]]
"""A backend's test that a checked top-level data field reads as a text: (SQL, parameters)."""


def check_data_field_name(name: object) -> None:
    """A payload field to filter on: a top-level name of letters, digits and `_`."""
    if not isinstance(name, str) or not DATA_FIELD_NAME.fullmatch(name):
        msg = f"a data field name is letters, digits and '_' (at most 64), not {name!r}"
        raise ValueError(msg)


def check_filter_names(method: str, filters: Mapping[str, object]) -> None:
    """Refuse a keyword that names no global-log filter, as Python refuses an unknown one."""
    for name in filters:
        if name not in LOG_FILTERS:
            msg = f"{method}() got an unexpected keyword argument {name!r}"
            raise TypeError(msg)


def check_id_prefix(prefix: object) -> str:
    """An id prefix to filter on: text of at least MIN_ID_PREFIX characters."""
    if not isinstance(prefix, str) or len(prefix) < MIN_ID_PREFIX:
        msg = f"an id prefix has at least {MIN_ID_PREFIX} characters, not {prefix!r}"
        raise ValueError(msg)
    return prefix


def prefix_upper_bound(prefix: str) -> str | None:
    """The smallest string above every string starting with `prefix` (None: unbounded)."""
    chars = list(prefix)
    while chars:
        code = ord(chars[-1]) + 1
        if 0xD800 <= code <= 0xDFFF:
            code = 0xE000
        if code <= 0x10FFFF:
            chars[-1] = chr(code)
            return "".join(chars)
        chars.pop()
    return None


def prefix_clause(prefix: str, column: str = "stream_id") -> tuple[list[str], list[Any]]:
    """`column` starting with `prefix`, as an index range (nothing for "")."""
    if not prefix:
        return [], []
    where, params = [f"{column} >= ?"], [prefix]
    upper = prefix_upper_bound(prefix)
    if upper is not None:
        where.append(f"{column} < ?")
        params.append(upper)
    return where, params


INDEXED_FILTERS: Final = frozenset(
    {
        "types",
        "correlation_id",
        "correlation_prefix",
        "actor",
        "since",
        "until",
        "occurred_since",
        "occurred_until",
    }
)
"""The filters the index tables serve (`event_index`); the others read the log's own columns."""


def uses_index(filters: Mapping[str, object]) -> bool:
    """Whether `filters` include one the index tables serve (set to something)."""
    return any(filters.get(name) is not None for name in INDEXED_FILTERS)


def log_where(
    filters: LogFilters, time_param: TimeParam, field_equals: FieldEquals, indexed: str = "e"
) -> tuple[list[str], list[Any]]:
    """The conditions (with `?` placeholders) and parameters that `filters` put on the log
    (`events e`): the indexed columns read from the table aliased `indexed` (`e` itself,
    or `i` for `event_index` joined on the position)."""
    i = indexed
    where: list[str] = []
    params: list[Any] = []
    types = filters.get("types")
    if types is not None:
        type_list = [types] if isinstance(types, str) else list(types)
        if not type_list:
            where.append("1 = 0")
        else:
            where.append(f"{i}.type IN ({', '.join('?' * len(type_list))})")
            params += type_list
    stream_prefix = filters.get("stream_prefix")
    if stream_prefix:
        prefix_where, prefix_params = prefix_clause(stream_prefix, "e.stream_id")
        where += prefix_where
        params += prefix_params
    correlation_id = filters.get("correlation_id")
    if correlation_id is not None:
        where.append(f"{i}.correlation_id = ?")
        params.append(str(correlation_id))
    correlation_prefix = filters.get("correlation_prefix")
    if correlation_prefix is not None:
        prefix = check_id_prefix(correlation_prefix)
        prefix_where, prefix_params = prefix_clause(prefix, f"{i}.correlation_id")
        # the range uses the (correlation_id, position) index; the test keeps it exact
        # whatever the column's collation
        where += [*prefix_where, f"substr({i}.correlation_id, 1, {len(prefix)}) = ?"]
        params += [*prefix_params, prefix]
    actor = filters.get("actor")
    if actor is not None:
        where.append(f"{i}.actor = ?")
        params.append(str(actor))
    since = filters.get("since")
    if since is not None:
        where.append(f"{i}.recorded_at >= ?")
        params.append(time_param(since))
    until = filters.get("until")
    if until is not None:
        where.append(f"{i}.recorded_at < ?")
        params.append(time_param(until))
    occurred_since = filters.get("occurred_since")
    if occurred_since is not None:
        where.append(f"{i}.occurred_at >= ?")
        params.append(time_param(occurred_since))
    occurred_until = filters.get("occurred_until")
    if occurred_until is not None:
        where.append(f"{i}.occurred_at < ?")
        params.append(time_param(occurred_until))
    data_equals = filters.get("data_equals")
    if data_equals is not None:
        name, value = data_equals
        check_data_field_name(name)
        match, match_params = field_equals(name, str(value))
        params += match_params
        for type_name, version in sorted((filters.get("older_schemas") or {}).items()):
            match += " OR (e.type = ? AND e.schema_version < ?)"
            params += [type_name, int(version)]
        where.append(f"({match})")
    return where, params
