"""Events and commands: frozen dataclasses registered by decorator with a type name.

    @event("MoneyDeposited", version=2)
    @dataclass(frozen=True)
    class MoneyDeposited:
        account_number: str
        amount: int

Registration is open: any module may declare more events and commands (the
registry is keyed by type name, not a closed list). `event_class(name)` and
`command_class(name)` look them up; `parse_command(name, data)` turns JSON input
into a validated command or raises `CommandValidationError`.
"""

from __future__ import annotations

import dataclasses
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

from webapp.domain.errors import CommandValidationError
from webapp.domain.formats import check_formats

T = TypeVar("T")

_WHOLE_NUMBER = re.compile(r"[+-]?[0-9]{1,100}")  # ASCII digits: int() refuses "²"
_EVENTS: dict[str, type] = {}
_COMMANDS: dict[str, type] = {}


@dataclass(frozen=True)
class FieldSpec:
    """One field of a command or event, as a form or a catalogue shows it."""

    name: str
    type: str
    required: bool
    default: Any = None
    minimum: int | None = None
    maximum: int | None = None
    description: str = ""
    personal_of: str | None = None
    max_length: int | None = None
    pattern: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class Limits:
    """What values a field accepts, declared once in the domain.

    Commands declare their fields with it, `check_command` refuses what falls outside
    (`CommandValidationError`, a 400 at the API), and read models size their columns from
    the same declaration, so a command never carries a value its read models cannot hold:

        USER_ID = Limits(max_length=100)
        MONEY = Limits(minimum=1, maximum=2**53 - 1, description="cents")

        @command("RegisterUser")
        @dataclass(frozen=True)
        class RegisterUser:
            user_id: str = USER_ID.field()
            ...

        sa.Column("user_id", sa.String(USER_ID.max_length), primary_key=True)

    `minimum`/`maximum` bound numbers, `max_length` counts characters of a text, and
    `pattern` is a regular expression a whole text must match.
    """

    minimum: int | None = None
    maximum: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    description: str = ""

    def metadata(self) -> dict[str, Any]:
        """The limits as dataclass field metadata (what `check_command` reads)."""
        declared = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        return {key: value for key, value in declared.items() if value not in (None, "")}

    def field(self, *, default: Any = dataclasses.MISSING, description: str = "") -> Any:
        """A dataclass field holding these limits (`description` overrides the declared one)."""
        metadata = self.metadata()
        if description:
            metadata["description"] = description
        return dataclasses.field(default=default, metadata=metadata)


def _check_frozen_dataclass(cls: type, kind: str) -> None:
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen:
        msg = f"{kind} {cls.__name__} must be a frozen dataclass (@dataclass(frozen=True))"
        raise TypeError(msg)


def _register(table: dict[str, type], name: str, cls: type, kind: str) -> None:
    existing = table.get(name)
    if existing is not None and (existing.__module__, existing.__qualname__) != (
        cls.__module__,
        cls.__qualname__,
    ):
        msg = f"{kind} type name {name!r} is already registered by {existing.__qualname__}"
        raise ValueError(msg)
    table[name] = cls


def event(
    name: str | None = None, *, version: int = 1, personal_data: Mapping[str, str] | None = None
) -> Callable[[type[T]], type[T]]:
    """Register a frozen dataclass as an event type at schema `version`.

    `personal_data` (or a class attribute `__personal_data__`) maps a field to the
    field holding its data subject's id, e.g. {"email": "user_id"}; a class attribute
    `__formats__` says how fields read, e.g. {"amount": money("EUR")} (`webapp.domain.formats`).
    """

    def wrap(cls: type[T]) -> type[T]:
        _check_frozen_dataclass(cls, "event")
        type_name = name or cls.__name__
        declared = dict(personal_data or getattr(cls, "__personal_data__", {}) or {})
        field_names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        for fld, subject in declared.items():
            if fld not in field_names or subject not in field_names:
                msg = f"{type_name}: personal data {fld!r} -> {subject!r} names an unknown field"
                raise ValueError(msg)
        check_formats(type_name, cls, field_names)
        cls.__event_type__ = type_name  # type: ignore[attr-defined]
        cls.__schema_version__ = version  # type: ignore[attr-defined]
        cls.__personal_data__ = declared  # type: ignore[attr-defined]
        _register(_EVENTS, type_name, cls, "event")
        return cls

    return wrap


def command(name: str | None = None, *, internal: bool = False) -> Callable[[type[T]], type[T]]:
    """Register a frozen dataclass as a command type.

    Field metadata may carry `minimum`, `maximum`, `max_length`, `pattern` and
    `description`, best declared once as `Limits` (`amount: int = MONEY.field()`); a
    method `check(self)` may raise `CommandValidationError` for rules that span fields.
    An `internal` command is sent only by the system itself (a process manager's step):
    the router refuses it from outside callers (API, console).
    """

    def wrap(cls: type[T]) -> type[T]:
        _check_frozen_dataclass(cls, "command")
        type_name = name or cls.__name__
        field_names = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        check_formats(type_name, cls, field_names)
        cls.__command_type__ = type_name  # type: ignore[attr-defined]
        cls.__internal__ = internal  # type: ignore[attr-defined]
        _register(_COMMANDS, type_name, cls, "command")
        return cls

    return wrap


def event_class(type_name: str) -> type | None:
    """The event class registered under `type_name`, or None."""
    return _EVENTS.get(type_name)


def is_internal_command(cls: type) -> bool:
    """True for a command only the system itself sends (see `command(internal=True)`)."""
    return bool(getattr(cls, "__internal__", False))


def command_class(type_name: str) -> type | None:
    """The command class registered under `type_name`, or None."""
    return _COMMANDS.get(type_name)


def event_types() -> dict[str, type]:
    return dict(_EVENTS)


def command_types() -> dict[str, type]:
    return dict(_COMMANDS)


def type_name_of(message: object) -> str:
    """The registered type name of an event or command instance or class."""
    cls = message if isinstance(message, type) else type(message)
    name = getattr(cls, "__event_type__", None) or getattr(cls, "__command_type__", None)
    if name is None:
        msg = f"{cls.__name__} is neither a registered event nor a registered command"
        raise TypeError(msg)
    return name


def schema_version_of(message: object) -> int:
    cls = message if isinstance(message, type) else type(message)
    return getattr(cls, "__schema_version__", 1)


def personal_data_of(cls: type) -> dict[str, str]:
    return dict(getattr(cls, "__personal_data__", {}) or {})


def personal_field_names() -> set[str]:
    """Every field name any registered event type declares as personal data."""
    names: set[str] = set()
    for cls in _EVENTS.values():
        names.update(personal_data_of(cls))
    return names


# --- fields and coercion -------------------------------------------------------------


def _hints(cls: type) -> dict[str, Any]:
    cached = cls.__dict__.get("__field_hints__")
    if cached is None:
        cached = typing.get_type_hints(cls)
        cls.__field_hints__ = cached  # type: ignore[attr-defined]
    return cached


def _type_label(tp: Any) -> str:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_label(a) for a in typing.get_args(tp))
    if origin is not None:
        args = ", ".join(_type_label(a) for a in typing.get_args(tp))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if tp is type(None):
        return "None"
    return getattr(tp, "__name__", str(tp))


def field_specs(cls: type) -> list[FieldSpec]:
    """The fields of a command or event class, in declaration order."""
    hints = _hints(cls)
    personal = personal_data_of(cls)
    specs = []
    for f in dataclasses.fields(cls):
        has_default = (
            f.default is not dataclasses.MISSING or f.default_factory is not dataclasses.MISSING
        )
        default = f.default if f.default is not dataclasses.MISSING else None
        specs.append(
            FieldSpec(
                name=f.name,
                type=_type_label(hints.get(f.name, Any)),
                required=not has_default,
                default=default,
                minimum=f.metadata.get("minimum"),
                maximum=f.metadata.get("maximum"),
                description=f.metadata.get("description", ""),
                personal_of=personal.get(f.name),
                max_length=f.metadata.get("max_length"),
                pattern=f.metadata.get("pattern"),
            )
        )
    return specs


def _coerce(value: Any, tp: Any, field_name: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        errors = []
        for arg in args:
            if arg is type(None):
                continue
            try:
                return _coerce(value, arg, field_name)
            except CommandValidationError as exc:
                errors.append(exc)
        raise errors[0] if errors else _wrong_type(field_name, tp, value)
    if tp is Any:
        return value
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in {"true", "false"}:
            return value.lower() == "true"
        raise _wrong_type(field_name, tp, value)
    if tp is int:
        if isinstance(value, int) and not isinstance(value, bool):
            return value
        if isinstance(value, str) and _WHOLE_NUMBER.fullmatch(value.strip()):
            return int(value.strip())
        raise _wrong_type(field_name, tp, value)
    if tp is float:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return float(value)
        raise _wrong_type(field_name, tp, value)
    if tp is str:
        if isinstance(value, str):
            return value
        raise _wrong_type(field_name, tp, value)
    if isinstance(tp, type) and not isinstance(value, tp):
        raise _wrong_type(field_name, tp, value)
    return value


def _wrong_type(field_name: str, tp: Any, value: Any) -> CommandValidationError:
    return CommandValidationError(
        "wrong_type",
        f"field {field_name!r} must be {_type_label(tp)}, got {type(value).__name__}",
        field=field_name,
    )


def _check_plan(cls: type) -> list[tuple[dataclasses.Field, Any]]:
    plan = cls.__dict__.get("__check_plan__")
    if plan is None:
        hints = _hints(cls)
        plan = [(f, hints.get(f.name, Any)) for f in dataclasses.fields(cls)]
        cls.__check_plan__ = plan  # type: ignore[attr-defined]
    return plan


def check_command(cmd: object) -> None:
    """Check a command's field types and declared ranges, then its own `check()`."""
    cls = type(cmd)
    if getattr(cls, "__command_type__", None) is None:
        msg = f"{cls.__name__} is not a registered command"
        raise CommandValidationError("unknown_command", msg)
    for f, tp in _check_plan(cls):
        value = getattr(cmd, f.name)
        if type(value) is not tp:  # the common case (an int for int, a str for str) skips this
            coerced = _coerce(value, tp, f.name)
            if coerced is not value and coerced != value:
                raise _wrong_type(f.name, tp, value)
        _check_range(f, value)
    check = getattr(cmd, "check", None)
    if callable(check):
        check()


def _check_range(f: dataclasses.Field, value: Any) -> None:
    if isinstance(value, str) and value == "" and f.default is dataclasses.MISSING:
        msg = f"field {f.name!r} must not be empty"
        raise CommandValidationError("invalid_value", msg, field=f.name)
    if isinstance(value, str):
        _check_text(f, value)
        return
    if not isinstance(value, int | float) or isinstance(value, bool):
        return
    low, high = f.metadata.get("minimum"), f.metadata.get("maximum")
    if low is not None and value < low:
        raise CommandValidationError(
            "invalid_value", f"field {f.name!r} must be at least {low}, got {value}", field=f.name
        )
    if high is not None and value > high:
        raise CommandValidationError(
            "invalid_value", f"field {f.name!r} must be at most {high}, got {value}", field=f.name
        )


def _check_text(f: dataclasses.Field, value: str) -> None:
    longest, pattern = f.metadata.get("max_length"), f.metadata.get("pattern")
    if longest is not None and len(value) > longest:
        msg = f"field {f.name!r} must be at most {longest} characters, got {len(value)}"
        raise CommandValidationError("invalid_value", msg, field=f.name)
    if pattern is not None and value and re.fullmatch(pattern, value) is None:
        msg = f"field {f.name!r} is not in the expected format"
        raise CommandValidationError("invalid_value", msg, field=f.name)


def parse_command(type_name: str, data: Mapping[str, Any] | None) -> Any:
    """Build a validated command from its name and JSON-like data (form strings allowed)."""
    cls = _COMMANDS.get(type_name) if isinstance(type_name, str) else None
    if cls is None:
        raise CommandValidationError(
            "unknown_command", f"unknown command {type_name!r}", command=str(type_name)
        )
    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise CommandValidationError("wrong_type", "command data must be an object")
    hints = _hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise CommandValidationError(
            "unknown_field", f"{type_name} has no field {unknown[0]!r}", field=unknown[0]
        )
    kwargs = {}
    for fname, f in fields.items():
        if fname not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise CommandValidationError(
                    "missing_field", f"{type_name} needs field {fname!r}", field=fname
                )
            continue
        kwargs[fname] = _coerce(data[fname], hints.get(fname, Any), fname)
    cmd = cls(**kwargs)
    check_command(cmd)
    return cmd


# --- events to and from plain data ---------------------------------------------------


def to_data(message: object) -> dict[str, Any]:
    """A message's fields as a JSON-ready dict (shallow: field values are kept as they are)."""
    return {f.name: getattr(message, f.name) for f in dataclasses.fields(message)}  # type: ignore[arg-type]


@dataclass(frozen=True)
class UnknownEvent:
    """An event read from the store whose type no module registered; aggregates ignore it."""

    type: str
    data: dict[str, Any]


def from_data(type_name: str, data: Mapping[str, Any]) -> Any:
    """Rebuild an event from stored data; tolerant of missing and extra fields.

    Missing fields become None (a forgotten subject's values, a field added later),
    so folding an old or redacted event never fails.
    """
    cls = _EVENTS.get(type_name)
    if cls is None:
        return UnknownEvent(type_name, dict(data))
    names = cls.__dict__.get("__field_names__")
    if names is None:
        names = tuple(f.name for f in dataclasses.fields(cls))
        cls.__field_names__ = names
    try:
        return cls(**{n: data.get(n) for n in names})
    except Exception:  # noqa: BLE001 - a custom __post_init__ refusing stored data
        return UnknownEvent(type_name, dict(data))


def iter_messages(values: Iterable[Any] | Any | None) -> list[Any]:
    """Normalise a handler's return value (None, one event, or many) to a list."""
    if values is None:
        return []
    if isinstance(values, list | tuple):
        return [v for v in values if v is not None]
    return [values]
