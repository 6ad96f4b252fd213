"""The sign-in log: each attempt to sign in to the dashboard, kept for 90 days.

Who signed in, when, how (password or one-time login link), from which address and
browser, and each refused attempt with its reason (wrong password, unknown account,
disabled account, a login link already used or expired). Admins read it under Staff
accounts → Sign-ins, with `eventscope accounts sign-ins` and `GET /api/sign-ins`.

Two kinds of attempt are not written, so that nobody can fill the table from
outside: a login link that was never issued (a guess at a 256-bit token), and a
password tried while the login throttle holds that name or address locked (its
failures before the lock are written). Entries older than RETENTION_DAYS are deleted
as new ones come in.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from webapp.database import reading
from webapp.web.account_records import SIGN_IN_OUTCOMES, SignInAttempt

RETENTION_DAYS = 90
METHODS: tuple[str, ...] = ("password", "login-link")
OUTCOME_FILTERS: tuple[str, ...] = ("signed-in", "refused")
"""What a reader may filter on: the attempts that signed in, or those refused."""
MAX_NAME = 100
MAX_ADDRESS = 64
MAX_BROWSER = 200

_metadata = sa.MetaData()
sign_ins_table = sa.Table(
    "web_sign_ins",
    _metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("at", sa.Float, nullable=False),
    sa.Column("account", sa.String(MAX_NAME), nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("outcome", sa.String(32), nullable=False),
    sa.Column("address", sa.String(MAX_ADDRESS), nullable=False, server_default=""),
    sa.Column("browser", sa.String(MAX_BROWSER), nullable=False, server_default=""),
)
"""Created by the Alembic revision web_0005_sign_in_log."""


@dataclass(frozen=True, slots=True)
class SignIn:
    id: int
    at: datetime
    account: str
    method: str
    outcome: str
    address: str
    browser: str

    @property
    def refused(self) -> bool:
        return self.outcome != "signed-in"

    def as_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "account": self.account,
            "method": self.method,
            "outcome": self.outcome,
            "address": self.address,
            "browser": self.browser,
        }


@dataclass(frozen=True, slots=True)
class SignInCounts:
    signed_in: int
    refused: int


class SignInLog:
    """The sign-in log in the store's database (SQLAlchemy Core)."""

    def __init__(self, engine: sa.Engine, *, retention_days: int = RETENTION_DAYS) -> None:
        self.engine = engine
        self.retention = timedelta(days=retention_days)

    def record(
        self, attempt: SignInAttempt, *, method: str, address: str | None, browser: str | None
    ) -> None:
        """Write one attempt, and delete the entries past the retention period."""
        if method not in METHODS or attempt.outcome not in SIGN_IN_OUTCOMES:
            msg = f"unknown sign-in method {method!r} or outcome {attempt.outcome!r}"
            raise ValueError(msg)
        now = round(time.time(), 6)  # what a datetime holds: `since=<its at>` finds it again
        with self.engine.begin() as conn:
            conn.execute(
                sign_ins_table.delete().where(
                    sign_ins_table.c.at < now - self.retention.total_seconds()
                )
            )
            conn.execute(
                sign_ins_table.insert().values(
                    at=now,
                    account=_printable(attempt.name)[:MAX_NAME],
                    method=method,
                    outcome=attempt.outcome,
                    address=_printable(address or "")[:MAX_ADDRESS],
                    browser=_printable(browser or "")[:MAX_BROWSER],
                )
            )

    def entries(
        self,
        *,
        limit: int = 100,
        before: int | None = None,
        account: str | None = None,
        refused: bool | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[SignIn]:
        """The newest attempts first (at most `limit`; `before`: ids below it), filtered by
        account name, refused or not, and time (`since` inclusive, `until` exclusive)."""
        query = sa.select(sign_ins_table).where(*_filters(account, refused, since, until))
        if before is not None:
            query = query.where(sign_ins_table.c.id < before)
        query = query.order_by(sign_ins_table.c.id.desc()).limit(max(1, min(limit, 1000)))
        with reading(self.engine) as conn:
            rows = conn.execute(query).all()
        return [
            SignIn(
                id=r.id,
                at=datetime.fromtimestamp(r.at, UTC),
                account=r.account,
                method=r.method,
                outcome=r.outcome,
                address=r.address,
                browser=r.browser,
            )
            for r in rows
        ]

    def counts(self, since: datetime) -> SignInCounts:
        """How many attempts since `since` signed someone in, and how many were refused."""
        signed_in = sa.func.sum(sa.case((sign_ins_table.c.outcome == "signed-in", 1), else_=0))
        query = sa.select(sa.func.count(), signed_in).where(
            sign_ins_table.c.at >= since.timestamp()
        )
        with reading(self.engine) as conn:
            total, ok = conn.execute(query).one()
        return SignInCounts(signed_in=int(ok or 0), refused=int(total or 0) - int(ok or 0))


def refused_filter(outcome: str | None) -> bool | None:
    """`entries(refused=...)` for an outcome filter ("" or None: every attempt)."""
    if outcome and outcome not in OUTCOME_FILTERS:
        msg = f"unknown outcome filter {outcome!r}"
        raise ValueError(msg)
    return None if not outcome else outcome == "refused"


def _filters(
    account: str | None, refused: bool | None, since: datetime | None, until: datetime | None
) -> list[sa.ColumnElement[bool]]:
    where: list[sa.ColumnElement[bool]] = []
    if account is not None:
        where.append(sign_ins_table.c.account == account)
    if refused is not None:
        column = sign_ins_table.c.outcome
        where.append(column != "signed-in" if refused else column == "signed-in")
    if since is not None:
        where.append(sign_ins_table.c.at >= since.timestamp())
    if until is not None:
        where.append(sign_ins_table.c.at < until.timestamp())
    return where


def _printable(text: str) -> str:
    """`text` with control characters dropped (names are typed by anyone at the form)."""
    return "".join(ch for ch in text if ch.isprintable())
