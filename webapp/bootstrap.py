"""Composition root: build the store, privacy, domain and projections from settings.

The only module that knows every part and which domain runs (the demo unless told
otherwise): the web layer, the CLI and the tests call `build_runtime`, and nothing is
built at import time. Migrations run here (or from `eventscope db upgrade`), never from
the store or the key store.

    runtime = build_runtime(Settings.from_env(), migrate=True)
    runtime.router.dispatch(DepositMoney("A-1", 500))
    runtime.close()

A domain of your own is a package shaped like `webapp.demo` (see `DomainPackage`):
`build_runtime(settings, domain=my_domain)`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.engine import Engine

from webapp import demo
from webapp.config import Settings
from webapp.database import create_store_engine
from webapp.domain import AggregateRegistry, CommandRouter, Router, build_domain
from webapp.domain.references import NO_REFERENCES, References
from webapp.migrate import upgrade_engine
from webapp.privacy import Privacy, Vault
from webapp.privacy.codec import PersonalFields, domain_personal_fields
from webapp.privacy.database import BRANCH as PRIVACY_BRANCH
from webapp.privacy.database import create_keystore_engine
from webapp.privacy.vault import keystore_url_for
from webapp.projections import (
    ProcessManager,
    Projection,
    Projections,
    ProjectionsParticipant,
    Worker,
    build_projections,
    start_in_process,
)
from webapp.projections.checks import ReadModelCheck, ReadModelReport
from webapp.projections.lookups import ReadModelLookup, ReadModels
from webapp.projections.milestones import MilestonePolicy
from webapp.sources import EventscopeSource, EventSource, Subscription
from webapp.store import EventStore, open_store


class SeedReport(Protocol):
    def summary(self) -> str: ...


class Seeder(Protocol):
    """The domain's sample data: `eventscope demo` and `eventscope seed` load it."""

    def planned_commands(self) -> int: ...

    def load(self, progress: Callable[[int], None] | None = None) -> SeedReport: ...

    def synthetic(
        self,
        count: int,
        *,
        events_per_stream: int = 200,
        progress: Callable[[int], None] | None = None,
    ) -> int: ...


class DomainPackage(Protocol):
    """What a domain declares for the composition root to wire (a module such as
    `webapp.demo` fits): its contexts' routing tables, read models, process managers,
    the read models the dashboard may look up by name, and its sample data.

    A package may also declare `checks() -> list[ReadModelCheck]`: read models that
    `eventscope db check` compares with a replay of the log (`check_read_models`), and
    `references() -> References`: payload fields that name another stream, which the
    dashboard links (`owner_id` -> the user's stream and subject page)."""

    def routers(self) -> list[Router]: ...

    def projections(self) -> list[Projection]: ...

    def process_managers(self, settings: Settings) -> list[ProcessManager]: ...

    def read_models(self) -> list[ReadModelLookup]: ...

    def seeder(self, router: CommandRouter) -> Seeder: ...


@dataclass
class Runtime:
    """Everything a running eventscope process holds, wired together."""

    settings: Settings
    store: EventStore
    database: Engine
    """eventscope's own tables beside the events: accounts, sessions, notes, sign-ins."""
    source: EventSource
    """What the dashboard reads: the store, behind the read-only source port."""
    privacy: Privacy
    registry: AggregateRegistry
    router: CommandRouter
    projections: Projections
    read_models: ReadModels
    seeder: Seeder
    references: References = NO_REFERENCES
    """Payload fields that name another stream, as the domain declares them."""
    workers: list[Worker] = field(default_factory=list)

    def start_background_work(self, echo: Callable[[str], object] = print) -> Worker:
        """Run the index builder, the projections and the process managers in threads of
        this process."""
        self.store.start_indexing()
        worker = start_in_process(self.projections)
        self.workers.append(worker)
        echo("Index builder, projections and process managers: running in this process.")
        return worker

    def load_seed_if_empty(self, echo: Callable[[str], object] = print) -> None:
        """Load the domain's sample data into an empty store."""
        held = self.store.count_events()
        if held > 0:
            echo(f"Store already holds {held:,} events; not seeding.")
            return
        echo("Loading the seed data ...")
        self.seeder.load()
        echo(f"Loaded {self.store.count_events():,} events.")

    def close(self) -> None:
        """Stop the background work and release every connection, newest part first."""
        while self.workers:
            self.workers.pop().stop()
        self.registry.stop()
        self.projections.close()
        self.privacy.close()
        self.store.close()


def build_runtime(
    settings: Settings, *, migrate: bool = True, domain: DomainPackage = demo
) -> Runtime:
    """Open the store (migrating it if asked) and wire every layer and `domain` on top of it."""
    store = open_migrated_store(
        settings.db_url, max_payload_bytes=settings.max_payload_bytes, migrate=migrate
    )
    try:
        vault = open_vault(settings, migrate=migrate)
    except Exception:
        store.close()
        raise
    registry, router = build_domain(store, domain.routers(), codec=vault.codec)
    projections = build_projections(
        store,
        domain.projections(),
        domain.process_managers(settings),
        router=router,
        decode=router.repository.decode,
        upcasters=router.repository.upcasters,
        milestones=milestone_policy(settings),
    )
    privacy = Privacy(
        vault, store=store, registry=registry, participants=[ProjectionsParticipant(projections)]
    )
    # a forget run by another process reaches this one's keys and live aggregates
    registry.add_tick_hook(privacy.check_forgets_elsewhere)
    return Runtime(
        settings=settings,
        store=store,
        database=store.engine,
        source=EventscopeSource(store, subscriptions=checkpoints_of(projections)),
        privacy=privacy,
        registry=registry,
        router=router,
        projections=projections,
        read_models=ReadModels(projections, domain.read_models()),
        seeder=domain.seeder(router),
        references=declared_references(domain),
    )


def milestone_policy(settings: Settings) -> MilestonePolicy:
    """How often read models keep a milestone and how many: the settings' `milestone_every`
    and `milestones_kept`, else `EVENTSCOPE_MILESTONE_EVERY` / `EVENTSCOPE_MILESTONES_KEPT`,
    else every 100,000 events, the latest 5."""
    default = MilestonePolicy.from_env()
    return MilestonePolicy(
        every=int(settings.extra.get("milestone_every", default.every)),  # type: ignore[call-overload]
        keep=int(settings.extra.get("milestones_kept", default.keep)),  # type: ignore[call-overload]
    )


def declared_references(domain: DomainPackage) -> References:
    """The domain's `references()`, or none when it declares no such function."""
    declared: Callable[[], References] | None = getattr(domain, "references", None)
    return NO_REFERENCES if declared is None else declared()


@dataclass
class BrowseRuntime:
    """A running explorer over a store another tool wrote: the source, read-only, and
    eventscope's own database for accounts, sessions, notes and the access log.

    No domain runs: `router`, `registry`, `projections`, `read_models` and `seeder` are
    None, and pages that need them are not offered (the source's capabilities say what
    it can answer)."""

    settings: Settings
    database: Engine
    source: EventSource
    privacy: Privacy
    """Only its access log is used: who was shown which stream's payloads, and where."""
    source_name: str = ""
    """The source URL without a password, for the page header."""
    store: EventStore | None = None
    registry: AggregateRegistry | None = None
    router: CommandRouter | None = None
    projections: Projections | None = None
    read_models: ReadModels | None = None
    seeder: Seeder | None = None
    references: References = NO_REFERENCES
    workers: list[Worker] = field(default_factory=list)

    def start_background_work(self, echo: Callable[[str], object] = print) -> None:
        """Nothing runs beside a foreign store: it is only read."""

    def close(self) -> None:
        self.source.close()
        self.privacy.close()
        self.database.dispose()


def build_browse_runtime(
    settings: Settings, source: EventSource, *, source_name: str = "", migrate: bool = True
) -> BrowseRuntime:
    """eventscope's own database (`settings.db_url`, migrated) wired beside `source`."""
    engine = create_store_engine(settings.db_url)
    try:
        if migrate:
            upgrade_engine(engine)
        privacy = open_privacy(settings, migrate=migrate)
    except Exception:
        engine.dispose()
        raise
    return BrowseRuntime(
        settings=settings,
        database=engine,
        source=source,
        privacy=privacy,
        source_name=source_name,
    )


def check_read_models(
    store: EventStore, *, full: bool = False, domain: DomainPackage = demo
) -> list[ReadModelReport]:
    """Run the domain's read-model checks over `store` (a sample of rows, all with `full`).

    Only reads: a read model without tables yet is reported as not built, not created."""
    declared: Callable[[], list[ReadModelCheck]] | None = getattr(domain, "checks", None)
    if declared is None:
        return []
    projections = build_projections(store, domain.projections(), ensure=False)
    return [check.run(projections, full=full) for check in declared()]


def checkpoints_of(projections: Projections) -> Callable[[], list[Subscription]]:
    """The projections' and process managers' checkpoints, as the source's subscriptions."""

    def checkpoints() -> list[Subscription]:
        return [
            Subscription(item["name"], int(item["position"]), int(item["lag_events"]))
            for item in projections.status()
            if item["kind"] != "timer"
        ]

    return checkpoints


def open_migrated_store(
    url: str, *, max_payload_bytes: int = 1_000_000, migrate: bool = True
) -> EventStore:
    """The event store at `url`, every layer's schema brought to its head first."""
    engine = create_store_engine(url)
    try:
        if migrate:
            upgrade_engine(engine)
    except Exception:
        engine.dispose()
        raise
    return open_store(engine, max_payload_bytes=max_payload_bytes)


def open_vault(
    settings: Settings,
    *,
    migrate: bool = True,
    personal_fields: PersonalFields = domain_personal_fields,
) -> Vault:
    """The key store and codec. A key store in its own database is always brought to the
    privacy branch's head; one inside the event store follows `migrate`."""
    url = keystore_url_for(settings)
    engine = create_keystore_engine(url)
    try:
        if migrate or url != settings.db_url:
            upgrade_engine(engine, f"{PRIVACY_BRANCH}@head")
        return Vault.open(settings, engine=engine, personal_fields=personal_fields)
    except Exception:
        engine.dispose()
        raise


def open_privacy(
    settings: Settings,
    *,
    store: EventStore | None = None,
    personal_fields: PersonalFields = domain_personal_fields,
    migrate: bool = True,
) -> Privacy:
    """A Privacy service alone (no aggregates, no projections), for tools and tests."""
    vault = open_vault(settings, migrate=migrate, personal_fields=personal_fields)
    return Privacy(vault, store=store)
