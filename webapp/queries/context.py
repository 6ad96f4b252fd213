"""What a query reads from (the running parts) and for whom (the viewer).

Every query takes the parts first and, when personal data may be shown, the viewer:

    rows = stream_timeline(runtime, "user-u-1", start=1, viewer=Viewer("ada", "support"))

The composition root's `Runtime` has these parts; tests may pass anything that has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from webapp.domain import AggregateRegistry, CommandRouter
from webapp.domain.upcasting import UpcasterChain
from webapp.privacy import NOTHING_REVEALED, Privacy, RevealScope, sees_personal_data
from webapp.projections import Projections
from webapp.projections.lookups import ReadModels
from webapp.sources import EventSource


class Parts(Protocol):
    """The running parts the queries read: events through the source, personal data through
    privacy, aggregates through the router and registry, read models through projections.

    Over a store another tool wrote no domain runs: router, registry, projections and
    read models are None (`runs_domain` is False) and the queries read the source alone.
    """

    @property
    def source(self) -> EventSource: ...

    @property
    def privacy(self) -> Privacy: ...

    @property
    def router(self) -> CommandRouter | None: ...

    @property
    def registry(self) -> AggregateRegistry | None: ...

    @property
    def projections(self) -> Projections | None: ...

    @property
    def read_models(self) -> ReadModels | None: ...


def runs_domain(parts: Parts) -> bool:
    """True when eventscope's domain runs over the source (its own store)."""
    return parts.router is not None


def aggregate_class(parts: Parts, stream_id: str) -> Any:
    """The aggregate class that owns `stream_id` (None: no domain, or no route matches)."""
    router = parts.router
    return None if router is None else router.aggregate_for_stream(stream_id)


def upcasters_of(parts: Parts) -> UpcasterChain:
    """The domain's upcasters; none for another tool's store (events read as stored)."""
    router = parts.router
    return UpcasterChain() if router is None else router.repository.upcasters


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads: the name the access log records and the role personal data is shown for.

    `reveals` None: the role alone decides (the JSON API and the CLI: support and admin see
    personal data in clear, and each showing is logged). A `RevealScope` (the dashboard):
    support and admin see in clear only what they revealed on purpose, which was logged
    when they revealed it; everything else stays masked and nothing more is logged.
    """

    actor: str = "anonymous"
    role: str = "viewer"
    reveals: RevealScope | None = None

    @property
    def sees_personal_data(self) -> bool:
        """Support and admin may see personal fields in clear; viewers never do."""
        return sees_personal_data(self.role)

    @property
    def logs_each_view(self) -> bool:
        """True when each showing of plaintext is logged (no reveal scope: the API, the CLI)."""
        return self.reveals is None

    def may_see(self, subject_id: str | None, field: str | None = None) -> bool:
        """Whether this reader is shown `field` of `subject_id` (or all their data) in clear."""
        if not self.sees_personal_data:
            return False
        return self.reveals is None or self.reveals.allows(subject_id, field)

    def masked(self) -> Viewer:
        """The same reader with nothing revealed (for places that never show personal data)."""
        return Viewer(self.actor, self.role, NOTHING_REVEALED)
