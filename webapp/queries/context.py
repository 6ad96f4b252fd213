"""What a query reads from (the running parts) and for whom (the viewer).

Every query takes the parts first and, when personal data may be shown, the viewer:

    rows = stream_timeline(runtime, "user-u-1", start=1, viewer=Viewer("ada", "support"))

The composition root's `Runtime` has these parts; tests may pass anything that has them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from webapp.domain import AggregateRegistry, CommandRouter
from webapp.privacy import Privacy, sees_personal_data
from webapp.projections import Projections
from webapp.projections.lookups import ReadModels
from webapp.sources import EventSource


class Parts(Protocol):
    """The running parts the queries read: events through the source, personal data through
    privacy, aggregates through the router and registry, read models through projections."""

    @property
    def source(self) -> EventSource: ...

    @property
    def privacy(self) -> Privacy: ...

    @property
    def router(self) -> CommandRouter: ...

    @property
    def registry(self) -> AggregateRegistry: ...

    @property
    def projections(self) -> Projections: ...

    @property
    def read_models(self) -> ReadModels: ...


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who reads: the name the access log records and the role personal data is shown for."""

    actor: str = "anonymous"
    role: str = "viewer"

    @property
    def sees_personal_data(self) -> bool:
        """Support and admin see personal fields in clear (and are logged); viewers do not."""
        return sees_personal_data(self.role)
