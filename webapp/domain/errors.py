"""Errors the domain raises: business refusals, bad commands, lost races."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any


class DomainError(Exception):
    """A command refused by a business rule; nothing was appended.

    `code` is stable (e.g. "insufficient_funds") so callers can match on it;
    the message is for people.
    """

    template: str | None = None
    """For an error made by `worded`: its message with a `{name}` where each detail goes."""
    reads: Mapping[str, Any] = MappingProxyType({})
    """For an error made by `worded`: how details that are no field read (name -> format)."""

    def __init__(self, code: str, message: str | None = None, **details: Any) -> None:
        self.code = code
        self.message = message or code.replace("_", " ")
        self.details = details
        super().__init__(self.message)

    @classmethod
    def worded(
        cls, code: str, template: str, *, reads: Mapping[str, Any] | None = None, **details: Any
    ) -> DomainError:
        """A refusal whose message is `template` filled in with `details`, as `str.format`
        would ("holds {balance}"): the message reads as ever, and a page can show each
        detail as the field of its name reads (the aggregate's, else the command's: money
        as money); `reads` gives the format of a detail that is no field.

            raise DomainError.worded(
                "insufficient_funds", "holds {balance}, cannot withdraw {amount}",
                balance=self.balance, amount=cmd.amount,
            )
        """
        error = cls(code, template.format(**details), **details)
        error.template = template
        error.reads = MappingProxyType(dict(reads or {}))
        return error

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, **self.details}


class CommandValidationError(DomainError):
    """A command that cannot be dispatched as given: unknown name, missing field, wrong type,
    or a value out of range. Codes: unknown_command, missing_field, unknown_field, wrong_type,
    invalid_value."""


class ConcurrencyError(DomainError):
    """The aggregate kept changing under us: every retry met a newer stream version."""

    def __init__(self, stream_id: str, attempts: int) -> None:
        super().__init__(
            "concurrency_conflict",
            f"stream {stream_id!r} changed concurrently {attempts} times; command not applied",
            stream_id=stream_id,
            attempts=attempts,
        )


class RoutingError(Exception):
    """A router declaration is inconsistent (e.g. one command routed twice)."""
