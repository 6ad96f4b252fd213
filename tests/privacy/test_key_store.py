"""One wrapped key per subject, a checked master key, rotation and a bounded cache."""

from __future__ import annotations

import base64
import dataclasses
import os
import stat

import pytest
import sqlalchemy as sa

from webapp.bootstrap import open_migrated_store, open_privacy
from webapp.config import Settings
from webapp.privacy import MasterKeyError, SubjectForgottenError
from webapp.privacy.master_key import load_master_key

SQLITE_ONLY = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
"""Backend-independent behaviour: specified once (the rest runs on both backends)."""


def _personal(type_name):
    return {"ContactAdded": {"name": "person_id", "email": "person_id"}}.get(type_name)


def test_a_subject_gets_one_key_created_on_first_use(writer, privacy):
    assert privacy.keys.count_keys() == 0
    writer.add_contact("p1", "Ada", "ada@example.org")
    writer.add_contact("p1", "Ada L.", "ada@example.org")
    writer.add_contact("p2", "Bob", "bob@example.org")
    assert privacy.keys.count_keys() == 2


@SQLITE_ONLY
def test_keys_are_stored_wrapped_never_in_clear(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    key = privacy.keys.key_for_reading("p1").key
    with privacy.engine.connect() as conn:
        wrapped = conn.execute(sa.text("select wrapped_key from privacy_subjects")).scalar_one()
    assert key not in bytes(wrapped)
    assert len(bytes(wrapped)) == 12 + 32 + 16


def test_a_wrong_master_key_is_a_clear_error_at_start_up(settings, store, writer):
    writer.add_contact("p1", "Ada", "ada@example.org")
    wrong = dataclasses.replace(settings, master_key=base64.b64encode(os.urandom(32)).decode())
    with pytest.raises(MasterKeyError, match="does not match this key store"):
        open_privacy(wrong, store=store, personal_fields=_personal)


@pytest.mark.parametrize("bad", ["not-base64!!", base64.b64encode(b"short").decode()])
def test_a_malformed_master_key_is_refused(tmp_path, bad):
    settings = Settings(db_url=f"sqlite:///{tmp_path / 'e.db'}", master_key=bad)
    with pytest.raises(MasterKeyError):
        load_master_key(settings)


def test_a_new_sqlite_deployment_generates_a_private_key_file_beside_the_database(sqlite_url):
    settings = Settings(db_url=sqlite_url)
    privacy = open_privacy(settings, personal_fields=_personal)
    try:
        path = settings.data_dir / "master.key"
        assert privacy.master_key.generated
        assert privacy.master_key.path == path
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert (settings.data_dir / "keystore.db").exists()
        assert base64.b64encode(privacy.master_key.key).decode() not in repr(privacy.master_key)
        assert path.read_text().strip() == base64.b64encode(privacy.master_key.key).decode()
    finally:
        privacy.close()
    again = open_privacy(settings, personal_fields=_personal)
    assert not again.master_key.generated
    again.close()


def test_an_existing_key_store_without_its_master_key_does_not_start(sqlite_url):
    settings = Settings(db_url=sqlite_url)
    open_privacy(settings, personal_fields=_personal).close()
    (settings.data_dir / "master.key").unlink()
    with pytest.raises(MasterKeyError, match="no master key configured"):
        open_privacy(settings, personal_fields=_personal)


def test_a_configured_key_file_is_used(tmp_path, sqlite_url):
    key_file = tmp_path / "secret" / "mk"
    key_file.parent.mkdir()
    key_file.write_text(base64.b64encode(os.urandom(32)).decode() + "\n")
    settings = Settings(db_url=sqlite_url, master_key_file=key_file)
    privacy = open_privacy(settings, personal_fields=_personal)
    assert privacy.master_key.path == key_file
    assert not (settings.data_dir / "master.key").exists()
    privacy.close()


def test_rotating_the_master_key_rewraps_keys_and_leaves_events_alone(
    settings, store, writer, privacy
):
    writer.add_contact("p1", "Ada", "ada@example.org")
    writer.add_contact("p2", "Bob", "bob@example.org")
    before = [e.data for e in store.read_all()]

    new_key = os.urandom(32)
    assert privacy.rotate_master_key(new_key) == 2

    assert [e.data for e in store.read_all()] == before
    rotated = dataclasses.replace(settings, master_key=base64.b64encode(new_key).decode())
    reopened = open_privacy(rotated, store=store, personal_fields=_personal)
    try:
        assert reopened.codec.decode(store.read_stream("contact-p1")[0]).data["name"] == "Ada"
        assert reopened.lookup_email("bob@example.org", actor="sam", role="support") == ["p2"]
    finally:
        reopened.close()
    with pytest.raises(MasterKeyError):
        open_privacy(settings, store=store, personal_fields=_personal)


@SQLITE_ONLY
def test_cached_keys_expire_and_are_evicted_on_forget(writer, privacy):
    writer.add_contact("p1", "Ada", "ada@example.org")
    assert privacy.keys.cache.get("p1") is not None
    privacy.forget("p1", reason="request", actor="sam", role="support")
    assert privacy.keys.cache.get("p1") is None or privacy.keys.cache.get("p1").key is None

    privacy.keys.cache.seconds = 0.0
    writer.add_contact("p2", "Bob", "bob@example.org")
    assert privacy.keys.cache.get("p2") is None


def test_a_forgotten_subject_gets_no_new_key_silently(writer, privacy, store):
    writer.add_contact("p1", "Ada", "ada@example.org")
    privacy.forget("p1", reason="request", actor="sam", role="support")
    with pytest.raises(SubjectForgottenError):
        writer.add_contact("p1", "Ada again", "ada@example.org")
    assert len(store.read_stream("contact-p1")) == 1
    assert privacy.keys.count_keys() == 0


def test_the_key_store_can_live_in_its_own_database(tmp_path, master_key):
    from webapp.store.types import NewEvent

    db_url = f"sqlite:///{tmp_path / 'events' / 'eventscope.db'}"
    (tmp_path / "events").mkdir()
    keys_url = f"sqlite:///{tmp_path / 'vault' / 'keys.db'}"
    settings = Settings(db_url=db_url, keystore_url=keys_url, master_key=master_key)
    store = open_migrated_store(db_url)
    privacy = open_privacy(settings, store=store, personal_fields=_personal)
    try:
        event = NewEvent("ContactAdded", {"person_id": "p1", "name": "Ada", "email": "a@b.org"})
        store.append("contact-p1", [privacy.codec.encode("contact-p1", event)])
        assert privacy.keys.count_keys() == 1
        assert (tmp_path / "vault" / "keys.db").exists()
        with store.engine.connect() as conn:
            assert conn.execute(sa.text("select count(*) from privacy_subjects")).scalar() == 0
    finally:
        privacy.close()
        store.close()
