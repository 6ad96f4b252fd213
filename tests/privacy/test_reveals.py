"""Reveals: personal data shown on purpose, to one person, for a while, logged once."""

from __future__ import annotations

import time

import pytest
import sqlalchemy as sa

from webapp.privacy import AccessDenied, RevealScope, is_masked
from webapp.privacy.tables import reveals as reveals_table

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)


def decoded(privacy, event, scope):
    return privacy.view_events([event], actor="sam", role="support", where="page", reveals=scope)[
        0
    ].data


def test_a_reveal_shows_that_subject_alone_and_is_logged_once_with_its_purpose(writer, privacy):
    ada = writer.add_contact("p1", "Ada", "ada@example.org")
    bob = writer.add_contact("p2", "Bob", "bob@example.org")
    privacy.reveal("p1", actor="sam", role="support", purpose="ticket SUP-7")
    scope = privacy.reveal_scope("sam")

    assert decoded(privacy, ada, scope)["name"] == "Ada"
    hidden = decoded(privacy, bob, scope)
    assert is_masked(hidden["name"]) and hidden["name"].subject == "p2"

    entries = privacy.access_log().entries
    assert [(e.action, e.subject_id, e.purpose) for e in entries] == [
        ("reveal", "p1", "ticket SUP-7")
    ]


def test_showing_under_a_scope_writes_nothing_more(writer, privacy):
    ada = writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.reveal("p1", actor="sam", role="support", purpose="ticket SUP-7")
    scope = privacy.reveal_scope("sam")
    for _ in range(3):
        decoded(privacy, ada, scope)
    assert len(privacy.access_log().entries) == 1


def test_a_reveal_of_one_field_leaves_the_others_masked(writer, privacy):
    ada = writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.reveal("p1", actor="sam", role="support", purpose="wrong e-mail", field="email")
    data = decoded(privacy, ada, privacy.reveal_scope("sam"))
    assert data["email"] == "ada@example.org"
    assert is_masked(data["name"])


def test_nothing_is_revealed_by_default_even_to_admins(writer, privacy):
    ada = writer.add_contact("p1", "Ada", "ada@example.org")
    scope = privacy.reveal_scope("root")
    assert not scope
    data = privacy.view_events([ada], actor="root", role="admin", where="page", reveals=scope)[
        0
    ].data
    assert is_masked(data["name"]) and is_masked(data["email"])
    assert privacy.access_log().entries == []


def test_a_reveal_is_personal_to_who_made_it(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.reveal("p1", actor="sam", role="support", purpose="ticket SUP-7")
    assert privacy.reveal_scope("sam").allows("p1")
    assert not privacy.reveal_scope("amy").allows("p1")


@SQLITE_ONLY
def test_a_reveal_ends_when_its_time_is_up_or_when_ended(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    writer.add_contact("p2", "Bob", "bob@example.org")
    privacy.reveal("p1", actor="sam", role="support", purpose="ticket SUP-7", minutes=5)
    privacy.reveal("p2", actor="sam", role="support", purpose="ticket SUP-8")
    with privacy.engine.begin() as conn:  # five minutes later
        conn.execute(
            sa.update(reveals_table)
            .where(reveals_table.c.subject_id == "p1")
            .values(expires_at=time.time() - 1)
        )
    assert not privacy.reveal_scope("sam").allows("p1")
    assert privacy.end_reveal("p2", actor="sam") == 1
    assert not privacy.reveal_scope("sam").allows("p2")
    assert privacy.revealed_to("sam") == []


@SQLITE_ONLY
@pytest.mark.parametrize("purpose", ["", "  ", "ok", "x" * 201])
def test_a_reveal_needs_a_stated_purpose(writer, privacy, purpose):
    writer.add_contact("p1", "Ada", "ada@example.org")
    with pytest.raises(ValueError, match="purpose"):
        privacy.reveal("p1", actor="sam", role="support", purpose=purpose)
    assert privacy.revealed_to("sam") == []
    assert privacy.access_log().entries == []


@SQLITE_ONLY
@pytest.mark.parametrize("minutes", [0, 61, -5])
def test_a_reveal_lasts_at_most_an_hour(writer, privacy, minutes):
    with pytest.raises(ValueError, match="minutes"):
        privacy.reveal("p1", actor="sam", role="support", purpose="ticket 1", minutes=minutes)
    assert privacy.access_log().entries == []


@SQLITE_ONLY
def test_viewers_may_not_reveal(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    with pytest.raises(AccessDenied):
        privacy.reveal("p1", actor="val", role="viewer", purpose="curious")
    assert privacy.access_log().entries == []


@SQLITE_ONLY
def test_a_viewer_sees_masks_whatever_the_scope_says(writer, privacy):
    ada = writer.add_contact("p1", "Ada", "ada@example.org")
    scope = RevealScope([("p1", None)])
    data = privacy.view_events([ada], actor="val", role="viewer", where="page", reveals=scope)[
        0
    ].data
    assert is_masked(data["name"])


def test_a_forgotten_subject_stays_forgotten_when_revealed(writer, privacy):
    ada = writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.reveal("p1", actor="sam", role="support", purpose="ticket SUP-7")
    privacy.forget("p1", reason="erasure request", actor="amy", role="admin")
    data = decoded(privacy, ada, privacy.reveal_scope("sam"))
    assert data["name"] == "[forgotten]"
