"""How a field reads, as the domain declares it (`webapp.domain.formats`): money as money,
an enum as its word. Over another tool's store no domain runs and nothing is declared,
so its values show as stored (JSON).

    kind = field_format(runtime, "BankAccount", "balance")
    kind.text(1020879)  # "€10,208.79"
"""

from __future__ import annotations

from webapp.domain.catalog import field_format as declared_format
from webapp.domain.formats import Format
from webapp.queries.context import Parts


def field_format(parts: Parts, owner: str | None, path: str | None) -> Format | None:
    """The format declared for field `path` of `owner` (an aggregate, event or command type
    name); None when nothing is declared or no domain runs."""
    router = parts.router
    if router is None or not owner or not path:
        return None
    return declared_format(router, str(owner), str(path))
