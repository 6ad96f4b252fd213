"""The PII access log: who saw, exported or forgot which subject; filterable and keyset-paged."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""Backend-independent behaviour: specified once (the rest runs on both backends)."""


def test_entries_come_newest_first_in_keyset_pages(privacy):
    for n in range(7):
        privacy.record_access("sam", "view", f"s{n}", f"GET /api/streams/user-s{n}/events")
    first = privacy.access_log(limit=3)
    assert [e.subject_id for e in first.entries] == ["s6", "s5", "s4"]
    second = privacy.access_log(limit=3, before=first.next)
    assert [e.subject_id for e in second.entries] == ["s3", "s2", "s1"]
    last = privacy.access_log(limit=3, before=second.next)
    assert [e.subject_id for e in last.entries] == ["s0"]
    assert last.next is None


@SQLITE_ONLY
def test_filters_by_subject_actor_action_and_time(privacy):
    privacy.record_access("sam", "view", "s1", "page")
    privacy.record_access("amy", "export", "s1", "cli")
    privacy.record_access("amy", "view", "s2", "page")
    assert [e.actor for e in privacy.access_log(subject_id="s1").entries] == ["amy", "sam"]
    assert [e.subject_id for e in privacy.access_log(actor="amy").entries] == ["s2", "s1"]
    assert [e.subject_id for e in privacy.access_log(action="export").entries] == ["s1"]
    now = datetime.now(UTC)
    assert len(privacy.access_log(since=now - timedelta(minutes=1)).entries) == 3
    assert privacy.access_log(until=now - timedelta(minutes=1)).entries == []
    entry = privacy.access_log(action="export").entries[0].as_dict()
    assert set(entry) == {"id", "at", "actor", "action", "subject_id", "what", "purpose"}


@SQLITE_ONLY
def test_filters_by_purpose_contained_in_any_case(privacy):
    privacy.record_access("sam", "export", "s1", "page", purpose="Ticket SUP-1042")
    privacy.record_access("amy", "export", "s2", "page", purpose="audit 2026 Q4")
    privacy.record_access("amy", "view", "s3", "api")
    assert [e.subject_id for e in privacy.access_log(purpose="sup-1042").entries] == ["s1"]
    assert [e.subject_id for e in privacy.access_log(purpose="2026").entries] == ["s2"]
    assert privacy.access_log(purpose="100%").entries == []


@SQLITE_ONLY
def test_unknown_actions_are_refused(privacy):
    for action in ("read", "", "delete"):
        with pytest.raises(ValueError, match="action"):
            privacy.record_access("sam", action, "s1", "x")
    assert privacy.access_log().entries == []


def test_export_and_forget_are_logged_with_their_purpose(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.export("p1", actor="amy", role="admin", purpose="SAR ticket 77")
    privacy.forget("p1", reason="erasure request 78", actor="amy", role="admin")
    entries = privacy.access_log(subject_id="p1").entries
    assert [(e.action, e.purpose) for e in entries] == [
        ("forget", "erasure request 78"),
        ("export", "SAR ticket 77"),
    ]
    stored = " ".join(e.what for e in privacy.access_log().entries)
    assert "Ada" not in stored
    assert "ada@example.org" not in stored
