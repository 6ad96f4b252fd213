"""Values as people read them: a field the domain declares a format for (money, a word, a
date) shows that way, its raw JSON in the title; any other value, and every value over
another tool's store, shows as JSON as before. Pages only: the JSON API keeps raw values.

    {{ readable(1020879, "balance", "BankAccount") }}
    -> <span class="value value--money" title="raw: 1020879">€10,208.79</span>

Templates reach it through `values.value(v, field, owner)` in `streams/_values.html`.
"""

from __future__ import annotations

from collections.abc import Iterable
from string import Formatter
from typing import Any

from flask import Flask
from markupsafe import Markup, escape

from webapp.domain import DomainError
from webapp.domain.formats import Format
from webapp.queries.formats import field_format
from webapp.web.context import get_runtime
from webapp.web.rendering import compact_json

_VALUE = Markup('<span class="value value--{}" title="raw: {}">{}</span>')


def shown(kind: Format | None, value: Any) -> Markup | str:
    """`value` as `kind` reads it, in a span whose title is the raw JSON; as JSON (plain text,
    escaped by the template) when there is no kind or the value does not fit it."""
    text = None if kind is None else kind.text(value)
    if kind is None or text is None:
        return compact_json(value)
    return _VALUE.format(kind.kind, compact_json(value), text)


def readable(value: Any, field: str | None = None, owner: str | None = None) -> Markup | str:
    """`value` of field `field` (a name or dotted path) of `owner` (an aggregate, event or
    command type name) as the domain says it reads."""
    return shown(field_format(get_runtime(), owner, field), value)


def readable_refusal(error: BaseException | None, owners: Iterable[str | None]) -> Markup | None:
    """A refusal the domain worded from its details (`DomainError.worded`), each detail shown
    as the field of its name reads on the first of `owners` declaring it ("holds €4,188.82");
    None for any other error (the page shows its message as it is)."""
    if not isinstance(error, DomainError) or error.template is None:
        return None
    runtime, formatter = get_runtime(), Formatter()
    owners = [owner for owner in owners if owner]
    out = []
    try:
        for literal, name, spec, conversion in formatter.parse(error.template):
            out.append(escape(literal))
            if name is None:
                continue
            value = error.details[name]
            kind = error.reads.get(name) or next(
                (f for o in owners if (f := field_format(runtime, o, name)) is not None), None
            )
            if kind is not None and kind.text(value) is not None:
                out.append(shown(kind, value))  # Markup: joined as it is
            else:
                converted = formatter.convert_field(value, conversion)
                out.append(escape(formatter.format_field(converted, spec or "")))
    except (KeyError, ValueError, TypeError):  # a template its details do not fill
        return None
    return Markup("").join(out)


def init_app(app: Flask) -> None:
    app.jinja_env.globals["readable"] = readable
