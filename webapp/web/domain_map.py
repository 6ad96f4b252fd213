"""The domain map of the event catalog: commands, aggregates, events and their readers, laid out
as a server-rendered SVG in four columns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from webapp.queries.catalog import Consumer

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
