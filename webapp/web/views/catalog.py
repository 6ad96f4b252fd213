"""The event catalog for domain experts: every event type, who emits it, who reads it, a map."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from flask import Blueprint, abort, current_app

from webapp.database import reading
from webapp.web import services
from webapp.web.access import current_account, requires_role
from webapp.web.context import get_runtime
from webapp.web.pages import render_view

T = TypeVar("T")
bp = Blueprint("catalog", __name__, url_prefix="/catalog")

COUNTS_PROJECTION = "event_type_counts"
FALLBACK_COUNT_LIMIT = 50_000
"""Without the counting projection, COUNT per type only on a store this small (stays fast)."""


@bp.get("/")
@requires_role("viewer")
def index() -> str:
    """Every event type with fields, versions, emitters, consumers, count, an example; the map."""
    catalog = domain_catalog()
    consumers = cached("consumers", lambda: consumers_by_type(catalog))
    names = [e["name"] for e in catalog["events"]]
    counts = event_counts(names)
    examples = latest_examples(names, counts)
    return render_view(
        "catalog/page.html",
        "catalog/_types.html",
        catalog=catalog,
        consumers=consumers,
        counts=counts,
        examples=examples,
        hand_sent=hand_sent_commands(catalog),
        domain_map=cached("domain_map", lambda: build_domain_map(catalog, consumers)),
    )


@bp.get("/types/<id:type_name>")
@requires_role("viewer")
def event_type(type_name: str) -> str:
    """One event type on its own page (the same card as in the catalog, with its notes)."""
    catalog = domain_catalog()
    found = [e for e in catalog["events"] if e["name"] == type_name]
    if not found:
        abort(404, description=f"no event type {type_name!r} is registered")
    consumers = cached("consumers", lambda: consumers_by_type(catalog))
    counts = event_counts([type_name])
    return render_view(
        "catalog/type_page.html",
        "catalog/_type.html",
        event=found[0],
        consumers=consumers,
        counts=counts,
        examples=latest_examples([type_name], counts),
        hand_sent=hand_sent_commands(catalog),
        standalone=True,  # the card's name is the page's heading
    )


def hand_sent_commands(catalog: dict[str, Any]) -> set[str]:
    """The commands a person sends (the console offers them); the rest are process-manager steps."""
    return {c["name"] for c in catalog["commands"] if not c.get("internal")}


# --- what the page shows -----------------------------------------------------------------


def domain_catalog() -> dict[str, Any]:
    """The domain's catalogue of events and commands (with emitters), plus the route table.

    Built once per app and router (types and routes are declared at start-up).
    """
    from webapp.domain import build_catalog

    router = get_runtime().router
    return cached("domain_catalog", lambda: build_catalog(router))


def cached(name: str, build: Callable[[], T]) -> T:
    """`build()` once per app and router: the catalogue, the map and the forms never change
    while the app runs, and rebuilding them costs more than the rest of the page."""
    store = current_app.extensions.setdefault("eventscope_catalog_cache", {})
    key = (name, id(get_runtime().router), id(get_runtime().projections))
    if key not in store:
        store[key] = build()
    return store[key]


@dataclass(frozen=True, slots=True)
class Consumer:
    name: str
    kind: str  # "projection" | "process_manager"
    every_type: bool = False


def consumers() -> list[tuple[Consumer, frozenset[str] | None]]:
    """Each projection and process manager with the event types it reads (None: every type)."""
    projections = get_runtime().projections
    if projections is None:
        return []
    found: list[tuple[Consumer, frozenset[str] | None]] = []
    for name in projections.names():
        handles = projections.get(name).handles
        found.append((Consumer(name, "projection", handles is None), handles))
    for name in projections.process_names():
        types = frozenset(projections.get_process(name).interested_types)
        found.append((Consumer(name, "process_manager"), types))
    return found


def consumers_by_type(catalog: dict[str, Any]) -> dict[str, list[Consumer]]:
    out: dict[str, list[Consumer]] = {e["name"]: [] for e in catalog["events"]}
    for consumer, types in consumers():
        for name in out:
            if types is None or name in types:
                out[name].append(consumer)
    return out


@dataclass
class Counts:
    """Events per type and how current the figures are."""

    by_type: dict[str, int] = field(default_factory=dict)
    last_positions: dict[str, int] = field(default_factory=dict)
    source: str = "none"  # "projection" | "count" | "none"
    position: int = 0
    head: int = 0

    @property
    def behind(self) -> int:
        return max(self.head - self.position, 0)


def event_counts(type_names: list[str]) -> Counts:
    """Counts from the event-type-counts projection (one small table), never a scan of the log.

    The projection reads every event, so the newest position it counted is how far
    the figures reach; the store's head shows how far behind they are.
    """
    runtime = get_runtime()
    store = runtime.store
    counts = Counts(head=store.head_position())
    projections = runtime.projections
    if projections is not None and COUNTS_PROJECTION in projections.names():
        rows = projections.event_type_counts()
        if rows or counts.head == 0:
            counts.by_type = {r["event_type"]: int(r["count"]) for r in rows}
            counts.last_positions = {r["event_type"]: int(r["last_position"]) for r in rows}
            counts.position = max((int(r["last_position"]) for r in rows), default=0)
            counts.source = "projection"
            return counts
    if counts.head <= FALLBACK_COUNT_LIMIT:
        counts.by_type = _count_by_type(type_names)
        counts.source, counts.position = "count", counts.head
    return counts


def _count_by_type(type_names: list[str]) -> dict[str, int]:
    """COUNT per type over the (type, position) index; only used on small stores."""
    import sqlalchemy as sa

    engine = get_runtime().store.engine
    query = sa.text("SELECT count(*) FROM events WHERE type = :type")
    with reading(engine) as conn:
        return {name: int(conn.execute(query, {"type": name}).scalar() or 0) for name in type_names}


def latest_examples(type_names: list[str], counts: Counts | None = None) -> dict[str, Any]:
    """The newest stored event of each type, revealed for the viewer's role: masked for
    viewers, decrypted and logged for support and admin.

    With the counting projection's figures each example is one primary-key read at the
    type's `last_position` (types it never saw are skipped); without them, one read on
    the (type, position) index per type.
    """
    store = get_runtime().store
    found = []
    if counts is not None and counts.source == "projection":
        for name in type_names:
            position = counts.last_positions.get(name)
            event = store.get_event(position) if position else None
            if event is not None:
                found.append(event)
    else:
        for name in type_names:
            found.extend(store.read_all_backward(None, limit=1, types=[name]))
    revealed = services.reveal(found, current_account(), purpose="event catalog examples")
    return {event.type: event for event in revealed}


# --- the domain map (server-rendered SVG) ------------------------------------------------

ROW = 30
NODE_H = 22
TOP = 34
COLUMNS = (
    ("Commands", 8, 170),
    ("Aggregates", 228, 150),
    ("Events", 428, 190),
    ("Projections and process managers", 678, 280),
)
MAP_WIDTH = 966


@dataclass
class MapNode:
    key: str
    label: str
    kind: str
    column: int
    row: float
    note: str = ""

    @property
    def x(self) -> int:
        return COLUMNS[self.column][1]

    @property
    def width(self) -> int:
        return COLUMNS[self.column][2]

    @property
    def y(self) -> float:
        return TOP + self.row * ROW

    @property
    def mid_y(self) -> float:
        return self.y + NODE_H / 2


@dataclass
class MapEdge:
    source: MapNode
    target: MapNode
    kind: str

    @property
    def path(self) -> str:
        x1, y1 = self.source.x + self.source.width, self.source.mid_y
        x2, y2 = self.target.x, self.target.mid_y
        bend = (x2 - x1) / 2
        return f"M{x1},{y1:.1f} C{x1 + bend},{y1:.1f} {x2 - bend},{y2:.1f} {x2},{y2:.1f}"


def build_domain_map(
    catalog: dict[str, Any], consumers_of: dict[str, list[Consumer]]
) -> dict[str, Any]:
    """Nodes in four columns and the lines between them: commands -> aggregates -> events ->
    projections and process managers. Rows follow the route table so lines rarely cross."""
    commands = {c["name"]: c for c in catalog["commands"]}
    nodes: dict[str, MapNode] = {}
    edges: list[MapEdge] = []
    command_row = 0
    event_row = 0
    for route in catalog["routes"]:
        first = command_row
        for name in route["commands"]:
            node = MapNode(f"cmd:{name}", name, "command", 0, command_row)
            nodes[node.key] = node
            command_row += 1
        agg_key = f"agg:{route['aggregate']}"
        if agg_key not in nodes:
            span = max(command_row - first - 1, 0)
            nodes[agg_key] = MapNode(
                agg_key, route["aggregate"], "aggregate", 1, first + span / 2, route["prefix"]
            )
        for name in route["commands"]:
            edges.append(MapEdge(nodes[f"cmd:{name}"], nodes[agg_key], "routes"))
            for emitted in commands.get(name, {}).get("emits", []):
                ev_key = f"ev:{emitted}"
                if ev_key not in nodes:
                    nodes[ev_key] = MapNode(ev_key, emitted, "event", 2, event_row)
                    event_row += 1
                if not any(e.source.key == agg_key and e.target.key == ev_key for e in edges):
                    edges.append(MapEdge(nodes[agg_key], nodes[ev_key], "emits"))
        event_row = max(event_row, command_row)
        command_row = max(command_row, event_row)
    for event in catalog["events"]:
        ev_key = f"ev:{event['name']}"
        if ev_key not in nodes:
            nodes[ev_key] = MapNode(ev_key, event["name"], "event", 2, event_row)
            event_row += 1
    consumer_row = 0
    every_type: list[Consumer] = []
    for event in catalog["events"]:
        for consumer in consumers_of.get(event["name"], []):
            if consumer.every_type:
                if consumer not in every_type:
                    every_type.append(consumer)
                continue
            key = f"{consumer.kind}:{consumer.name}"
            if key not in nodes:
                note = "process manager" if consumer.kind == "process_manager" else ""
                nodes[key] = MapNode(key, consumer.name, consumer.kind, 3, consumer_row, note)
                consumer_row += 1
    # a consumer sits level with the middle of the events it reads
    for key, node in nodes.items():
        if node.column != 3:
            continue
        rows = [
            nodes[f"ev:{e['name']}"].row
            for e in catalog["events"]
            if any(f"{c.kind}:{c.name}" == key for c in consumers_of.get(e["name"], []))
        ]
        if rows:
            node.row = sum(rows) / len(rows)
    _spread(nodes, 3)
    for event in catalog["events"]:
        for consumer in consumers_of.get(event["name"], []):
            if not consumer.every_type:
                edges.append(
                    MapEdge(
                        nodes[f"ev:{event['name']}"],
                        nodes[f"{consumer.kind}:{consumer.name}"],
                        "feeds",
                    )
                )
    last_row = max((n.row for n in nodes.values()), default=0)
    for consumer in every_type:
        last_row += 1
        key = f"{consumer.kind}:{consumer.name}"
        nodes[key] = MapNode(key, consumer.name, consumer.kind, 3, last_row, "reads every event")
    rows_used = max((n.row for n in nodes.values()), default=0) + 1
    return {
        "columns": [{"title": t, "x": x, "width": w} for t, x, w in COLUMNS],
        "nodes": list(nodes.values()),
        "edges": edges,
        "width": MAP_WIDTH,
        "height": int(TOP + rows_used * ROW + 8),
        "node_height": NODE_H,
    }


def _spread(nodes: dict[str, MapNode], column: int) -> None:
    """Push apart nodes of one column that would overlap, keeping their order."""
    placed = sorted((n for n in nodes.values() if n.column == column), key=lambda n: n.row)
    previous = None
    for node in placed:
        if previous is not None and node.row < previous + 1:
            node.row = previous + 1
        previous = node.row
