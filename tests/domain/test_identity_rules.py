"""The user's rules, in given/when/then form (no store)."""

from __future__ import annotations

import pytest

from webapp.demo.identity import ChangeEmail, EmailChanged, RegisterUser, User, UserRegistered
from webapp.domain.testing import given

REGISTERED = UserRegistered("u1", "Ada Achebe", "ada@example.org")


def test_registering_a_user() -> None:
    given(User).when(RegisterUser("u1", "Ada Achebe", "ada@example.org")).then(
        REGISTERED
    ).then_state(user_id="u1", name="Ada Achebe", email="ada@example.org", status="registered")


def test_a_user_registers_once() -> None:
    given(User, REGISTERED).when(RegisterUser("u1", "X", "x@example.org")).then_error(
        "user_already_registered"
    )


def test_changing_the_email_address() -> None:
    given(User, REGISTERED).when(ChangeEmail("u1", "ada@example.net")).then(
        EmailChanged("u1", "ada@example.net")
    ).then_state(email="ada@example.net")


def test_changing_to_the_same_address_records_nothing() -> None:
    given(User, REGISTERED).when(ChangeEmail("u1", "ada@example.org")).then_nothing()


def test_an_unknown_user_cannot_change_email() -> None:
    given(User).when(ChangeEmail("u1", "a@example.org")).then_error("user_not_found")


@pytest.mark.parametrize("email", ["", "no-at-sign", "a@nodot", "@example.org"])
def test_email_addresses_are_checked(email: str) -> None:
    given(User).when(RegisterUser("u1", "Ada", email)).then_error("invalid_value")
    given(User, REGISTERED).when(ChangeEmail("u1", email)).then_error("invalid_value")


def test_personal_data_is_declared_per_subject() -> None:
    assert UserRegistered.__personal_data__ == {"name": "user_id", "email": "user_id"}
    assert EmailChanged.__personal_data__ == {"email": "user_id"}


def test_a_forgotten_subject_folds_without_failing() -> None:
    forgotten = UserRegistered("u1", {"forgotten": True}, None)
    given(User, forgotten).then_state(user_id="u1", email=None, status="registered")
    assert given(User, forgotten).aggregate.state()["name"] == {"forgotten": True}
