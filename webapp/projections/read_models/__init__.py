"""The demo's read models: account summary, user directory, activity counts, stream catalog."""

from __future__ import annotations

from webapp.projections.projection import Projection
from webapp.projections.read_models.accounts import AccountSummary
from webapp.projections.read_models.activity import DailyActivity, EventTypeCounts, StreamCatalog
from webapp.projections.read_models.transfers import TransferSummary
from webapp.projections.read_models.users import UserDirectory


def demo_projections() -> list[Projection]:
    return [
        AccountSummary(),
        UserDirectory(),
        DailyActivity(),
        EventTypeCounts(),
        StreamCatalog(),
        TransferSummary(),
    ]


__all__ = [
    "AccountSummary",
    "DailyActivity",
    "EventTypeCounts",
    "StreamCatalog",
    "TransferSummary",
    "UserDirectory",
    "demo_projections",
]
