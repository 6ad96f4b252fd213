"""Support finds a subject by e-mail without the e-mail being stored; roles decide who sees what."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from webapp.privacy import FORGOTTEN, MASKED, AccessDenied, is_masked, normalise_email


@pytest.fixture
def db_url(sqlite_url: str) -> str:
    """Backend-independent rules (the runtime spec looks up by e-mail on both backends)."""
    return sqlite_url


def test_lookup_by_email_ignores_case_and_spaces(writer, privacy):
    writer.add_contact("p1", "Ada", "Ada.Lovelace@Example.org")
    writer.add_contact("p2", "Bob", "bob@example.org")
    assert privacy.lookup_email("  ada.lovelace@EXAMPLE.org ", actor="sam", role="support") == [
        "p1"
    ]
    assert privacy.lookup_email("nobody@example.org", actor="sam", role="support") == []
    assert normalise_email(" A@B.ORG ") == "a@b.org"


def test_the_index_holds_keyed_hashes_not_addresses(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    with privacy.engine.connect() as conn:
        rows = conn.execute(sa.text("select hmac, subject_id from privacy_subject_lookup")).all()
    assert [r.subject_id for r in rows] == ["p1"]
    assert len(rows[0].hmac) == 64
    # hex only, so nothing of the address (its "@", "example", "org") can be in it; "ada"
    # alone is no proof: a, d and a are hex digits, and a random hash holds them 1.5 % of runs
    assert set(rows[0].hmac) <= set("0123456789abcdef")
    assert "ada@example.org" not in rows[0].hmac


def test_lookup_entries_are_removed_on_forget(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.forget("p1", reason="request", actor="sam", role="support")
    assert privacy.lookup_email("ada@example.org", actor="sam", role="support") == []
    with privacy.engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from privacy_subject_lookup")).scalar() == 0


def test_viewers_see_masks_support_and_admin_see_plaintext(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org", city_code=7)
    event = store.read_stream("contact-p1")[0]
    viewer = privacy.decode(event, role="viewer").data
    assert viewer == {"person_id": "p1", "name": MASKED, "email": MASKED, "city_code": 7}
    assert viewer["name"] == "•••"
    for role in ("support", "admin"):
        assert privacy.decode(event, role=role).data["name"] == "Ada"


def test_viewers_see_the_forgotten_marker_not_a_mask(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.forget("p1", reason="request", actor="sam", role="support")
    event = store.read_stream("contact-p1")[0]
    assert privacy.decode(event, role="viewer").data["name"] is FORGOTTEN
    assert privacy.decode(event, role="viewer").data["name"] == "[forgotten]"


def test_showing_plaintext_to_a_person_is_logged_masks_are_not(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    events = store.read_stream("contact-p1")
    shown = privacy.view_events(events, actor="vic", role="viewer", where="GET /x")
    assert is_masked(shown[0].data["name"])
    assert privacy.access_log(actor="vic").entries == []

    shown = privacy.view_events(
        events, actor="sam", role="support", where="GET /api/streams/contact-p1/events"
    )
    assert shown[0].data["name"] == "Ada"
    [entry] = privacy.access_log(actor="sam").entries
    assert (entry.action, entry.subject_id, entry.what) == (
        "view",
        "p1",
        "GET /api/streams/contact-p1/events",
    )


@pytest.mark.parametrize("action", ["export", "forget", "lookup"])
def test_only_support_and_admin_may_export_forget_or_look_up(writer, privacy, store, action):
    writer.add_contact("p1", "Ada", "ada@example.org")
    calls = {
        "export": lambda: privacy.export("p1", actor="vic", role="viewer"),
        "forget": lambda: privacy.forget("p1", reason="r", actor="vic", role="viewer"),
        "lookup": lambda: privacy.lookup_email("ada@example.org", actor="vic", role="viewer"),
    }
    with pytest.raises(AccessDenied):
        calls[action]()
    assert not privacy.is_forgotten("p1")
    assert privacy.access_log().entries == []


def test_an_unknown_role_is_denied(privacy):
    with pytest.raises(AccessDenied, match="unknown role"):
        privacy.export("p1", actor="x", role="superuser")
