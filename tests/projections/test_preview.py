"""A preview of a rebuild: a model-version bump held beside the live generation, its diff
checked against an independent computation, then switched in or discarded."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest
import sqlalchemy as sa

from webapp.projections import ControlRefused, Projection, Projections, table_name
from webapp.projections import schema as engine_schema
from webapp.store.types import NewEvent, RecordedEvent


class ScoresV1(Projection):
    """Version 1: each player's total of points (every player who scored)."""

    name = "scores"
    handles = frozenset({"Scored", "Joined"})
    version = 1

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {
            "players": sa.Table(
                table_name(self.name, generation),
                metadata,
                sa.Column("player", sa.String(40), primary_key=True),
                sa.Column("total", sa.Integer, nullable=False),
            )
        }

    def handle_batch(self, conn, tables, events: Sequence[RecordedEvent]) -> None:
        table = tables["players"]
        for event in events:
            if event.type != "Scored":
                continue
            player, points = event.data["player"], event.data["points"]
            found = conn.execute(sa.select(table.c.total).where(table.c.player == player)).scalar()
            if found is None:
                conn.execute(table.insert().values(player=player, total=points))
            else:
                conn.execute(
                    table.update().where(table.c.player == player).values(total=found + points)
                )


class ScoresV2(Projection):
    """Version 2: points of 10 or more count double, a `games` column counts the scores,
    players who joined without scoring get a row, and bots are left out."""

    name = "scores"
    handles = frozenset({"Scored", "Joined"})
    version = 2

    def define_tables(self, metadata: sa.MetaData, generation: int) -> dict[str, sa.Table]:
        return {
            "players": sa.Table(
                table_name(self.name, generation),
                metadata,
                sa.Column("player", sa.String(40), primary_key=True),
                sa.Column("total", sa.Integer, nullable=False),
                sa.Column("games", sa.Integer, nullable=False),
            )
        }

    def handle_batch(self, conn, tables, events: Sequence[RecordedEvent]) -> None:
        table = tables["players"]
        for event in events:
            player = event.data["player"]
            if player.startswith("bot"):
                continue
            found = conn.execute(sa.select(table).where(table.c.player == player)).first()
            if found is None:
                conn.execute(table.insert().values(player=player, total=0, games=0))
                found = conn.execute(sa.select(table).where(table.c.player == player)).one()
            if event.type == "Scored":
                points = event.data["points"]
                gained = points * 2 if points >= 10 else points
                conn.execute(
                    table.update()
                    .where(table.c.player == player)
                    .values(total=found.total + gained, games=found.games + 1)
                )


EVENTS = [
    ("Scored", "ada", 3),
    ("Scored", "ada", 4),  # ada: v1 7, v2 7 (2 games): changed only by the new column
    ("Scored", "bob", 12),  # bob: v1 12, v2 24
    ("Scored", "bot-7", 5),  # removed by v2
    ("Joined", "cyd", None),  # added by v2 (no score)
    ("Scored", "dee", 10),
    ("Scored", "dee", 1),  # dee: v1 11, v2 21
]


def append(store, items) -> None:
    for kind, player, points in items:
        data: dict[str, Any] = {"player": player}
        if points is not None:
            data["points"] = points
        store.append(f"player-{player}", [NewEvent(kind, data)])


def expected_rows(items, version: int) -> dict[str, dict[str, Any]]:
    """What each version's handlers should build, computed apart from them."""
    rows: dict[str, dict[str, Any]] = {}
    for kind, player, points in items:
        if version == 1:
            if kind == "Scored":
                row = rows.setdefault(player, {"player": player, "total": 0})
                row["total"] += points
            continue
        if player.startswith("bot"):
            continue
        row = rows.setdefault(player, {"player": player, "total": 0, "games": 0})
        if kind == "Scored":
            row["total"] += points * 2 if points >= 10 else points
            row["games"] += 1
    return rows


def expected_diff(items) -> dict[str, Any]:
    old, new = expected_rows(items, 1), expected_rows(items, 2)
    added = sorted(set(new) - set(old))
    removed = sorted(set(old) - set(new))
    changed, unchanged = {}, 0
    for player in sorted(set(old) & set(new)):
        fields = {}
        if old[player]["total"] != new[player]["total"]:
            fields["total"] = {"old": old[player]["total"], "new": new[player]["total"]}
        fields["games"] = {"old": None, "new": new[player]["games"], "column": "added"}
        changed[player] = fields
    return {
        "added": {p: new[p] for p in added},
        "removed": {p: old[p] for p in removed},
        "changed": changed,
        "unchanged": unchanged,
    }


def v1_live(store) -> Projections:
    service = Projections(store, [ScoresV1()])
    service.runner("scores").run_until_caught_up()
    return service


def v2_held(store) -> tuple[Projections, Any]:
    """Version 2 deployed with previews of version bumps: the bump's rebuild is held."""
    service = Projections(store, [ScoresV2()], preview_rebuilds=True)
    runner = service.runner("scores")
    runner.run_until_caught_up()
    return service, runner


def live_totals(service: Projections) -> dict[str, int]:
    """What readers see: the live generation's totals (only the columns both versions have)."""

    def read(conn, tables):
        table = tables["players"]
        return dict(conn.execute(sa.select(table.c.player, table.c.total)).all())

    return service.query("scores", read)


def registry_row(store):
    with store.engine.connect() as conn:
        return conn.execute(
            sa.select(engine_schema.registry).where(engine_schema.registry.c.name == "scores")
        ).one()


def table_names(store) -> set[str]:
    return set(sa.inspect(store.engine).get_table_names())


def actions(service: Projections) -> list[tuple[str, str]]:
    return [(a["action"], a["by"]) for a in service.operator_log("scores")]


def as_found(diff: dict[str, Any]) -> dict[str, Any]:
    (table,) = diff["tables"]
    rows = table["rows"]
    return {
        "added": {r["key"]["player"]: r["row"] for r in rows if r["change"] == "added"},
        "removed": {r["key"]["player"]: r["row"] for r in rows if r["change"] == "removed"},
        "changed": {r["key"]["player"]: r["fields"] for r in rows if r["change"] == "changed"},
        "unchanged": table["counts"]["unchanged"],
    }


def test_a_version_bump_is_held_and_its_diff_is_what_an_independent_replay_says(store):
    append(store, EVENTS)
    v1 = v1_live(store)
    assert live_totals(v1) == {p: r["total"] for p, r in expected_rows(EVENTS, 1).items()}

    service, _runner = v2_held(store)

    row = registry_row(store)
    assert (row.live_generation, row.rebuild_generation) == (1, 2)
    assert row.rebuild_hold and row.hold_requested_by == "model version bump"
    assert live_totals(service) == {p: r["total"] for p, r in expected_rows(EVENTS, 1).items()}
    diff = service.preview("scores")
    assert diff["position"] == store.head_position()
    assert diff["same_position"] is True and diff["caught_up"] is True
    (table,) = diff["tables"]
    assert table["columns_added"] == ["games"] and table["columns_removed"] == []
    assert table["key"] == ["player"]
    expected = expected_diff(EVENTS)
    assert as_found(diff) == expected
    assert table["counts"] == {
        "added": len(expected["added"]),
        "removed": len(expected["removed"]),
        "changed": len(expected["changed"]),
        "unchanged": 0,
        "live_rows": len(expected_rows(EVENTS, 1)),
        "preview_rows": len(expected_rows(EVENTS, 2)),
    }
    assert [r["key"]["player"] for r in table["rows"]] == sorted(
        [*expected["added"], *expected["removed"], *expected["changed"]]
    )


def test_a_held_preview_of_the_same_version_keeps_up_with_new_events(store):
    append(store, EVENTS)
    service = v1_live(store)
    service.request_preview("scores", actor="ada")
    runner = service.runner("scores")
    runner.run_until_caught_up()
    more = [("Scored", "eve", 30), ("Scored", "ada", 10), ("Scored", "gus", 1)]
    append(store, more)

    runner.run_until_caught_up()

    diff = service.preview("scores")
    assert diff["position"] == store.head_position()
    (table,) = diff["tables"]
    assert table["counts"]["preview_rows"] == len(expected_rows(EVENTS + more, 1))
    assert table["counts"]["unchanged"] == len(expected_rows(EVENTS + more, 1))
    assert registry_row(store).live_generation == 1
    assert service.status_of("scores")["rebuild"]["held"] is True


def test_a_version_bump_is_compared_where_the_live_generation_stopped_and_switched_later(store):
    append(store, EVENTS)
    v1_live(store)
    service, runner = v2_held(store)
    held_at = store.head_position()
    more = [("Scored", "eve", 30), ("Scored", "ada", 10), ("Scored", "bot-9", 1)]
    append(store, more)

    runner.run_until_caught_up()

    diff = service.preview("scores")  # the new handlers never feed the old tables
    assert diff["position"] == held_at
    assert as_found(diff) == expected_diff(EVENTS)
    assert live_totals(service) == {p: r["total"] for p, r in expected_rows(EVENTS, 1).items()}
    assert service.status_of("scores")["lag_events"] == len(more)
    service.decide_preview("scores", "switch", actor="ada")
    runner.run_until_caught_up()
    assert registry_row(store).live_generation == 2
    totals = {p: r["total"] for p, r in expected_rows(EVENTS + more, 2).items()}
    assert live_totals(service) == totals
    assert service.status_of("scores")["lag_events"] == 0


def test_switch_makes_the_new_version_live_and_drops_the_old_tables(store):
    append(store, EVENTS)
    v1_live(store)
    service, runner = v2_held(store)

    outcome = service.decide_preview("scores", "switch", actor="ada")
    assert outcome["preview_outcome"] == "asked"
    assert registry_row(store).live_generation == 1  # the worker carries it out
    runner.run_until_caught_up()

    row = registry_row(store)
    assert (row.live_generation, row.rebuild_generation, row.model_version) == (2, None, 2)
    assert row.rebuild_hold is None and row.preview_decision is None
    assert live_totals(service) == {p: r["total"] for p, r in expected_rows(EVENTS, 2).items()}
    names = table_names(store)
    assert "rm_scores_v2" in names and "rm_scores_v1" not in names
    assert actions(service)[:2] == [("preview_switched", "ada"), ("switch_requested", "ada")]
    with pytest.raises(ControlRefused, match="no preview held"):
        service.preview("scores")


def test_discard_keeps_the_old_version_live_and_drops_the_preview(store):
    append(store, EVENTS)
    v1_live(store)
    service, runner = v2_held(store)

    service.decide_preview("scores", "discard", actor="bea")
    runner.run_until_caught_up()

    row = registry_row(store)
    assert (row.live_generation, row.rebuild_generation, row.rebuild_hold) == (1, None, None)
    assert live_totals(service) == {p: r["total"] for p, r in expected_rows(EVENTS, 1).items()}
    names = table_names(store)
    assert "rm_scores_v1" in names and "rm_scores_v2" not in names
    with store.engine.connect() as conn:
        generations = conn.execute(
            sa.select(engine_schema.checkpoints.c.generation).where(
                engine_schema.checkpoints.c.name == "scores"
            )
        ).scalars()
        assert sorted(generations) == [1]
    assert actions(service)[:2] == [("preview_discarded", "bea"), ("discard_requested", "bea")]
    # the new handlers still never feed the old tables; a restart asks for the preview again
    append(store, [("Scored", "ada", 50)])
    runner.run_until_caught_up()
    assert not runner.stopped
    assert live_totals(service) == {p: r["total"] for p, r in expected_rows(EVENTS, 1).items()}
    _restarted, runner = v2_held(store)
    row = registry_row(store)
    assert (row.live_generation, row.rebuild_generation, row.rebuild_hold) == (1, 2, True)


def test_an_admin_asks_for_a_preview_of_the_same_version_and_nothing_differs(store):
    append(store, EVENTS)
    service = v1_live(store)

    service.request_preview("scores", actor="ada")
    assert service.preview_state("scores")["generation"] is None
    with pytest.raises(ControlRefused, match="not started"):
        service.preview("scores")
    runner = service.runner("scores")
    runner.run_until_caught_up()

    diff = service.preview("scores")
    (table,) = diff["tables"]
    assert table["rows"] == []
    assert table["counts"]["unchanged"] == len(expected_rows(EVENTS, 1))
    assert table["counts"]["changed"] == table["counts"]["added"] == 0
    assert service.preview_state("scores")["requested_by"] == "ada"
    assert ("preview_requested", "ada") in actions(service)


def test_refusals_leave_everything_as_it_was(store, monkeypatch):
    from webapp.projections import preview

    monkeypatch.setattr(preview, "NEARLY_SAME", 1)  # caught up: at most one position behind
    append(store, EVENTS)
    service = v1_live(store)
    with pytest.raises(ControlRefused, match="no preview held"):
        service.decide_preview("scores", "switch", actor="ada")
    with pytest.raises(ControlRefused, match="no preview held"):
        service.decide_preview("scores", "discard", actor="ada")
    with pytest.raises(ValueError, match="unknown decision"):
        service.decide_preview("scores", "merge", actor="ada")

    service.request_preview("scores", actor="ada")
    with pytest.raises(ControlRefused, match="not started yet"):
        service.decide_preview("scores", "switch", actor="ada")
    with pytest.raises(ControlRefused, match="preview is already"):
        service.request_preview("scores", actor="bea")
    with pytest.raises(ControlRefused, match="preview held"):
        service.request_rebuild("scores")
    with pytest.raises(ControlRefused, match="preview held"):
        service.request_reset("scores", 0, actor="ada")

    runner = service.runner("scores", rebuild_batch_size=2)
    runner.load()
    runner.step_rebuild()  # generation 2 started, two events in: behind the live one
    state = service.preview_state("scores")
    assert state["generation"] == 2 and state["caught_up"] is False
    with pytest.raises(ControlRefused, match="switch once it has caught up"):
        service.decide_preview("scores", "switch", actor="ada")
    assert registry_row(store).preview_decision is None

    runner.run_until_caught_up()
    service.decide_preview("scores", "switch", actor="ada")
    with pytest.raises(ControlRefused, match="already asked by ada"):
        service.decide_preview("scores", "discard", actor="bea")


def test_a_preview_discarded_before_it_started_is_withdrawn_at_once(store):
    append(store, EVENTS)
    service = v1_live(store)
    service.request_preview("scores", actor="ada")

    outcome = service.decide_preview("scores", "discard", actor="ada")

    assert outcome["preview_outcome"] == "discarded"
    assert service.preview_state("scores") is None
    runner = service.runner("scores")
    runner.run_until_caught_up()  # the worker sees no request: nothing starts
    row = registry_row(store)
    assert (row.live_generation, row.rebuild_generation, row.rebuild_requested_at) == (
        1,
        None,
        None,
    )


def test_details_are_paged_by_key_while_counts_cover_every_row(store):
    items = [("Scored", f"p{i:03d}", 10 + i) for i in range(40)]
    append(store, items)
    v1_live(store)
    service, _runner = v2_held(store)

    first = service.preview("scores", limit=15)["tables"][0]
    assert first["counts"]["changed"] == 40
    assert [r["key"]["player"] for r in first["rows"]] == [f"p{i:03d}" for i in range(15)]
    assert first["next_after"] == ["p014"]
    second = service.preview("scores", table="players", after=first["next_after"], limit=15)
    rows = second["tables"][0]["rows"]
    assert [r["key"]["player"] for r in rows] == [f"p{i:03d}" for i in range(15, 30)]
    assert second["tables"][0]["counts"]["changed"] == 40
    with pytest.raises(ValueError, match="no table 'nope'"):
        service.preview("scores", table="nope")


def test_rows_are_matched_in_code_point_order_whatever_the_collation(store, monkeypatch):
    from webapp.projections import preview

    monkeypatch.setattr(preview, "CHUNK_ROWS", 3)  # a small buffer: several fetches a side
    names = ["Zed", "alice", "\u00c9mile", "bob", "_x", "\u00c4tsch", "zz", "Bob", "a b", "a-b"]
    items = [("Scored", name, 1) for name in names] + [("Scored", "bot-1", 1)]
    append(store, items)
    v1_live(store)
    service, _runner = v2_held(store)

    table = service.preview("scores", limit=100)["tables"][0]

    assert as_found(service.preview("scores", limit=100)) == expected_diff(items)
    assert table["counts"]["changed"] == len(names) and table["counts"]["removed"] == 1
    assert [r["key"]["player"] for r in table["rows"]] == sorted([*names, "bot-1"])


def test_the_migration_adds_the_preview_columns_and_downgrades(store):
    from alembic import command

    from webapp.migrate import alembic_config, upgrade_engine

    engine = store.engine
    added = {"rebuild_hold", "hold_requested_by", "preview_decision", "decided_by"}

    def columns() -> set[str]:
        return {c["name"] for c in sa.inspect(engine).get_columns("projection_registry")}

    assert added <= columns()
    append(store, EVENTS)
    v1_live(store)
    config = alembic_config()
    with engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "projections_0007")
    assert not added & columns()
    upgrade_engine(engine)
    assert added <= columns()
    assert registry_row(store).live_generation == 1  # the row itself is kept


def test_keys_of_a_linguistic_collation_are_still_merged_in_code_point_order(postgresql_url):
    from webapp.projections.preview import diff_table

    engine = sa.create_engine(postgresql_url)
    metadata = sa.MetaData()

    def table(name: str) -> sa.Table:
        return sa.Table(
            name,
            metadata,
            sa.Column("player", sa.String(40, collation="und-x-icu"), primary_key=True),
            sa.Column("total", sa.Integer),
        )

    live, held = table("live_players"), table("held_players")
    old = {"Zed": 1, "alice": 2, "\u00c9mile": 3, "bob": 4, "Bob": 5}
    new = {"Zed": 1, "alice": 20, "\u00c9mile": 3, "bob": 4, "a-b": 6}
    try:
        with engine.begin() as conn:
            metadata.create_all(conn)
            conn.execute(live.insert(), [{"player": k, "total": v} for k, v in old.items()])
            conn.execute(held.insert(), [{"player": k, "total": v} for k, v in new.items()])
            linguistic = list(
                conn.execute(sa.select(live.c.player).order_by(live.c.player)).scalars()
            )
            assert linguistic != sorted(old)  # the column's own order is not Python's

            diff = diff_table(conn, live, held, limit=10)
    finally:
        engine.dispose()

    assert diff["counts"] == {
        "added": 1,
        "removed": 1,
        "changed": 1,
        "unchanged": 3,
        "live_rows": 5,
        "preview_rows": 5,
    }
    assert [(r["change"], r["key"]["player"]) for r in diff["rows"]] == [
        ("removed", "Bob"),
        ("added", "a-b"),
        ("changed", "alice"),
    ]
