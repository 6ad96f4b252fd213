"""`/metrics` in the Prometheus text format, from a registry of this app's own.

Counted as they happen: command latency (histogram) and outcomes, events
appended by commands dispatched here, requests answered 503 because the store did
not answer, sign-in attempts by outcome (alert on a burst of refusals). Read from
the runtime at scrape time: store head and counts, projection lag, aggregates in
memory, snapshot loads; and the page cache of this process (`webapp.web.page_cache`).

Access: any account with a Bearer API token (`eventscope token create prom
--role viewer`), or an admin's browser session.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from flask import Blueprint, Flask, Response, abort, current_app, g
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

from webapp.bootstrap import Runtime
from webapp.web.access import ROLE_ATTRIBUTE, current_account
from webapp.web.page_cache import PAGES_KEY, PageCache

log = logging.getLogger(__name__)
bp = Blueprint("metrics", __name__)
EXTENSION_KEY = "eventscope_metrics"

COMMAND_OUTCOMES = ("ok", "rejected", "invalid", "conflict", "error")
UNKNOWN_COMMAND = "unknown"
"""The label of every command name the router does not know (labels never echo a client)."""


class WebMetrics:
    """The metrics one app instance records; `observe_command` is called per dispatch."""

    def __init__(self, runtime: Runtime) -> None:
        router = runtime.router
        self.command_names = frozenset(router.command_names() if router is not None else ())
        self.registry = CollectorRegistry(auto_describe=True)
        self.command_seconds = Histogram(
            "eventscope_command_duration_seconds",
            "Time to dispatch a command, by command name (unknown names count as 'unknown').",
            ["command"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.command_outcomes = Counter(
            "eventscope_commands",
            "Commands dispatched by name ('unknown' for names no route knows) and outcome (ok, "
            "rejected, invalid, conflict, error).",
            ["command", "outcome"],
            registry=self.registry,
        )
        self.events_appended = Counter(
            "eventscope_events_appended",
            "Events appended by commands dispatched through this process.",
            registry=self.registry,
        )
        self.store_unavailable = Counter(
            "eventscope_store_unavailable",
            "Requests answered 503 because the store did not answer (unreachable, or a lock "
            "or statement timeout).",
            registry=self.registry,
        )
        self.sign_ins = Counter(
            "eventscope_sign_ins",
            "Attempts to sign in to the dashboard through this process, by outcome (signed-in, "
            "wrong-password, unknown-account, no-password, disabled, link-used, link-expired).",
            ["outcome"],
            registry=self.registry,
        )
        self.registry.register(RuntimeCollector(runtime))

    def observe_command(self, command: str, outcome: str, seconds: float, events: int = 0) -> None:
        """Count one dispatch. Labels come from bounded sets only: a name the router does not
        route counts as `UNKNOWN_COMMAND`, an outcome outside `COMMAND_OUTCOMES` as "error"."""
        name = command if command in self.command_names else UNKNOWN_COMMAND
        result = outcome if outcome in COMMAND_OUTCOMES else "error"
        self.command_seconds.labels(command=name).observe(seconds)
        self.command_outcomes.labels(command=name, outcome=result).inc()
        if events:
            self.events_appended.inc(events)


class RuntimeCollector(Collector):
    """Gauges read from the runtime each time Prometheus scrapes."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        source = self.runtime.source
        yield _gauge(
            "eventscope_store_head_position", "Position of the newest event.", source.head_position
        )
        yield _gauge("eventscope_store_events", "Events in the store.", source.count_events)
        yield _gauge("eventscope_store_streams", "Streams in the store.", source.count_streams)
        yield from self._registry_metrics()
        yield from self._projection_metrics()

    def _registry_metrics(self) -> Iterator[Any]:
        registry = self.runtime.registry
        if registry is None:  # another tool's store: no aggregates run here
            return
        stats = _call(registry.stats)
        if stats is not None:
            yield _value(
                GaugeMetricFamily,
                "eventscope_aggregates_in_memory",
                "Aggregates held in memory by the registry.",
                stats.size,
            )
            yield _value(
                GaugeMetricFamily,
                "eventscope_aggregates_memory_bytes",
                "Approximate memory held by live aggregates.",
                stats.memory,
            )
            yield _value(
                CounterMetricFamily,
                "eventscope_aggregate_evictions",
                "Aggregates evicted from memory (lifespan expiry, stop or cap).",
                stats.evictions,
            )
        loads = registry.repository.stats
        family = CounterMetricFamily(
            "eventscope_aggregate_loads",
            "Aggregates loaded from the store, by source (snapshot or full replay).",
            labels=["source"],
        )
        family.add_metric(["snapshot"], float(loads.from_snapshot))
        family.add_metric(["replay"], float(loads.full_replay))
        yield family
        yield _value(
            CounterMetricFamily,
            "eventscope_snapshot_loads",
            "Aggregates rehydrated starting from a snapshot.",
            loads.from_snapshot,
        )

    def _projection_metrics(self) -> Iterator[Any]:
        projections = self.runtime.projections
        if projections is None:
            return
        statuses = _call(projections.status)
        if not statuses:
            return
        lag = GaugeMetricFamily(
            "eventscope_projection_lag",
            "Events in the store a projection has not processed yet.",
            labels=["projection"],
        )
        stopped = GaugeMetricFamily(
            "eventscope_projection_stopped",
            "1 while a projection or process manager is stopped at an event it could not "
            "handle (resume it: dashboard, API or `eventscope projections resume`).",
            labels=["projection"],
        )
        errors = GaugeMetricFamily(
            "eventscope_projection_errors",
            "Events a projection or process manager recorded as failed (skipped or stopped at).",
            labels=["projection"],
        )
        for values in statuses:
            name = values.get("name")
            if name is None:
                continue
            behind = values.get("lag_events", values.get("lag"))
            if behind is not None:
                lag.add_metric([str(name)], float(behind))
            stopped.add_metric([str(name)], 1.0 if values.get("state") == "stopped" else 0.0)
            errors.add_metric([str(name)], float(values.get("errors_recorded") or 0))
        yield lag
        yield stopped
        yield errors


class PageCacheCollector(Collector):
    """The page cache's hits, misses, bytes held and times a forget emptied it."""

    def __init__(self, pages: PageCache) -> None:
        self.pages = pages

    def describe(self) -> list[Any]:
        return []

    def collect(self) -> Iterator[Any]:
        pages = self.pages
        yield _value(
            CounterMetricFamily,
            "eventscope_page_cache_hits",
            "API reads of a full page answered from this process's page cache.",
            pages.hits,
        )
        yield _value(
            CounterMetricFamily,
            "eventscope_page_cache_misses",
            "API reads of a full page of events the page cache did not hold.",
            pages.misses,
        )
        yield _value(
            GaugeMetricFamily,
            "eventscope_page_cache_bytes",
            "Bytes of encoded replies the page cache holds.",
            pages.bytes,
        )
        yield _value(
            CounterMetricFamily,
            "eventscope_page_cache_emptied",
            "Times dropped keys (a forget, here or seen from elsewhere) emptied the cache.",
            pages.emptied,
        )


def _call(function: Any) -> Any:
    try:
        return function()
    except Exception:  # noqa: BLE001 - a scrape must not fail because one source did
        log.exception("metrics source failed")
        return None


def _value(kind: Any, name: str, documentation: str, value: float) -> Any:
    family = kind(name, documentation)
    family.add_metric([], float(value))
    return family


def _gauge(name: str, documentation: str, source: Any) -> GaugeMetricFamily:
    family = GaugeMetricFamily(name, documentation)
    value = _call(source)
    if value is not None:
        family.add_metric([], float(value))
    return family


def app_metrics(app: Flask | None = None) -> WebMetrics:
    return (app or current_app).extensions[EXTENSION_KEY]


@bp.get("/metrics")
def scrape() -> Response:
    """Prometheus scrape endpoint (Bearer token of any role, or an admin session)."""
    account = current_account()
    if account is None:
        abort(401, description="authentication required: send Authorization: Bearer TOKEN")
    if g.get("auth_method") != "token" and not account.has_role("admin"):
        abort(403, description="metrics need an API token or the admin role")
    body = generate_latest(app_metrics().registry)
    return Response(body, content_type=CONTENT_TYPE_LATEST)


setattr(scrape, ROLE_ATTRIBUTE, "viewer")


def init_app(app: Flask) -> None:
    metrics = WebMetrics(app.extensions["eventscope"])
    pages = app.extensions.get(PAGES_KEY)
    if pages is not None:
        metrics.registry.register(PageCacheCollector(pages))
    app.extensions[EXTENSION_KEY] = metrics
    app.register_blueprint(bp)
