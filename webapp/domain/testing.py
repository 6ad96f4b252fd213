"""Given/when/then helpers for testing aggregates without a store.

    given(BankAccount, BankAccountOpened("A1", "u1", 100)) \\
        .when(WithdrawMoney("A1", 500)) \\
        .then_error("insufficient_funds")
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from webapp.domain.aggregate import Aggregate
from webapp.domain.errors import DomainError
from webapp.domain.messages import check_command


@dataclass
class Outcome:
    aggregate: Aggregate
    events: list[Any] = field(default_factory=list)
    error: DomainError | None = None

    def then(self, *expected: Any) -> Outcome:
        """Assert the command produced exactly `expected` (in order)."""
        if self.error is not None:
            msg = f"expected events {list(expected)}, but the command failed: {self.error.code}"
            raise AssertionError(msg)
        assert self.events == list(expected), f"expected {list(expected)}, got {self.events}"
        return self

    def then_nothing(self) -> Outcome:
        return self.then()

    def then_error(self, code: str) -> Outcome:
        """Assert the command was refused with a DomainError of `code`."""
        if self.error is None:
            msg = f"expected error {code!r}, but the command produced {self.events}"
            raise AssertionError(msg)
        assert self.error.code == code, f"expected error {code!r}, got {self.error.code!r}"
        return self

    def then_state(self, **expected: Any) -> Outcome:
        """Assert fields of the state after the produced events were applied."""
        state = self.aggregate.state()
        for key, value in expected.items():
            assert state.get(key) == value, f"state[{key!r}] is {state.get(key)!r}, not {value!r}"
        return self


@dataclass
class Scenario:
    aggregate: Aggregate

    def when(self, command: Any) -> Outcome:
        try:
            check_command(command)
            events = self.aggregate.execute(command)
        except DomainError as err:
            return Outcome(self.aggregate, [], err)
        self.aggregate.apply_all(events)
        return Outcome(self.aggregate, events)

    def then_state(self, **expected: Any) -> Outcome:
        return Outcome(self.aggregate).then_state(**expected)


def given(aggregate_cls: type[Aggregate], *events: Any) -> Scenario:
    """An aggregate folded from `events` (given), ready for a command (when)."""
    aggregate = aggregate_cls()
    aggregate.apply_all(events)
    return Scenario(aggregate)


def assert_events(
    aggregate_cls: type[Aggregate], given_events: list[Any], command: Any, expected: list[Any]
) -> None:
    given(aggregate_cls, *given_events).when(command).then(*expected)


def assert_error(
    aggregate_cls: type[Aggregate], given_events: list[Any], command: Any, code: str
) -> None:
    given(aggregate_cls, *given_events).when(command).then_error(code)
