"""A decoder of Erlang's External Term Format (`term_to_binary`) into JSON-ready values.

Commanded's EventStore keeps events serialised with `:erlang.term_to_binary` by default;
this turns such bytes into what a page can show: dicts with text keys, lists, str, int,
float, bool and None. It decodes what Elixir data holds and refuses the rest (pids,
ports, references, funs) with `UndecodableTerm`, as it refuses truncated or corrupt input.

>>> decode(bytes([131, 116, 0, 0, 0, 1, 119, 1, 97, 97, 7]))
{'a': 7}

How terms read:

* atoms `true`, `false`, `nil` are True, False, None; an atom naming an Elixir module
  (`Elixir.MyApp.Deposited`) reads as Elixir writes it, `MyApp.Deposited`; other atoms
  are their text (`:ok` -> "ok");
* binaries that are UTF-8 are text; other binaries are `{"__bytes__": <base64>}`, and a
  bitstring whose last byte is partial `{"__bits__": <base64>, "bits_in_last_byte": n}`;
* lists and tuples are lists; a list with a tail other than `[]` is
  `{"__improper_list__": [...], "__tail__": tail}`; a charlist (STRING_EXT) is its
  list of integers, as Erlang means it;
* map keys that are atoms or binaries become their text; other keys become the JSON of
  their decoded value (`{1, 2}` -> "[1, 2]");
* an Elixir struct (a map with `__struct__`) keeps that key, module name without the
  `Elixir.` prefix; `DateTime`, `NaiveDateTime`, `Date` and `Time` structs become ISO
  8601 text (`Z` for UTC, as `DateTime.to_iso8601` writes it) and `Decimal` structs
  their decimal text (`"12.50"`).
"""

from __future__ import annotations

import base64
import json
import math
import struct
import zlib
from decimal import Decimal, InvalidOperation
from typing import Any, Final

VERSION: Final = 131
MAX_DEPTH: Final = 400
"""Nesting deeper than this is refused (a term so deep is corrupt or hostile)."""
MAX_INFLATED: Final = 64 * 1024 * 1024
"""A compressed term that claims to inflate beyond this is refused."""

NEW_FLOAT, BIT_BINARY, COMPRESSED = 70, 77, 80
SMALL_INTEGER, INTEGER, FLOAT, ATOM = 97, 98, 99, 100
SMALL_TUPLE, LARGE_TUPLE, NIL, STRING, LIST, BINARY = 104, 105, 106, 107, 108, 109
SMALL_BIG, LARGE_BIG, SMALL_ATOM, MAP = 110, 111, 115, 116
ATOM_UTF8, SMALL_ATOM_UTF8 = 118, 119

ELIXIR_PREFIX: Final = "Elixir."


class UndecodableTerm(ValueError):
    """The bytes are not a term this decoder reads: `tag` (None: no tag) at `offset`."""

    def __init__(self, reason: str, *, offset: int, tag: int | None = None) -> None:
        self.reason = reason
        self.offset = offset
        self.tag = tag
        where = f"at offset {offset}" if tag is None else f"tag {tag} at offset {offset}"
        super().__init__(f"undecodable Erlang term: {reason} ({where})")


class _Atom(str):
    """An atom's text, told apart from a binary's while a map or struct is built."""

    __slots__ = ()


def decode(data: bytes | bytearray | memoryview) -> Any:
    """The JSON-ready value of one whole `term_to_binary` output."""
    raw = bytes(data)
    if not raw or raw[0] != VERSION:
        first = raw[0] if raw else None
        msg = f"expected the format version byte {VERSION}, found {first!r}"
        raise UndecodableTerm(msg, offset=0, tag=first)
    if len(raw) > 1 and raw[1] == COMPRESSED:
        raw = bytes([VERSION]) + _inflate(raw)
    reader = _Reader(raw, 1)
    value = _public(reader.term(0))
    if reader.offset != len(raw):
        msg = f"{len(raw) - reader.offset} bytes after the term"
        raise UndecodableTerm(msg, offset=reader.offset)
    return value


def module_name(atom_text: str) -> str:
    """`Elixir.MyApp.Deposited` as Elixir writes it (`MyApp.Deposited`); others unchanged."""
    return atom_text[len(ELIXIR_PREFIX) :] if atom_text.startswith(ELIXIR_PREFIX) else atom_text


def _inflate(raw: bytes) -> bytes:
    if len(raw) < 6:
        raise UndecodableTerm("truncated compressed header", offset=1, tag=COMPRESSED)
    (size,) = struct.unpack_from(">I", raw, 2)
    if size > MAX_INFLATED:
        msg = f"compressed term claims {size} bytes (more than {MAX_INFLATED})"
        raise UndecodableTerm(msg, offset=1, tag=COMPRESSED)
    inflater = zlib.decompressobj()
    try:
        inflated = inflater.decompress(raw[6:], size + 1)
    except zlib.error as exc:
        raise UndecodableTerm(f"bad zlib data: {exc}", offset=6, tag=COMPRESSED) from None
    if len(inflated) != size or not inflater.eof:
        msg = f"compressed term inflates to other than the {size} bytes it claims"
        raise UndecodableTerm(msg, offset=6, tag=COMPRESSED)
    return inflated


class _Reader:
    def __init__(self, raw: bytes, offset: int) -> None:
        self.raw = raw
        self.offset = offset

    def take(self, count: int, tag: int | None) -> bytes:
        end = self.offset + count
        if end > len(self.raw):
            msg = f"truncated: {count} bytes wanted, {len(self.raw) - self.offset} left"
            raise UndecodableTerm(msg, offset=self.offset, tag=tag)
        chunk = self.raw[self.offset : end]
        self.offset = end
        return chunk

    def u8(self, tag: int | None) -> int:
        return self.take(1, tag)[0]

    def u16(self, tag: int) -> int:
        return int.from_bytes(self.take(2, tag), "big")

    def u32(self, tag: int) -> int:
        return int.from_bytes(self.take(4, tag), "big")

    def float(self, tag: int, start: int) -> float:
        if tag == NEW_FLOAT:
            value = struct.unpack(">d", self.take(8, tag))[0]
        else:
            text = self.take(31, tag).split(b"\0", 1)[0]
            try:
                value = float(text.decode("ascii"))
            except (UnicodeDecodeError, ValueError):
                raise UndecodableTerm("bad float text", offset=start, tag=tag) from None
        if not math.isfinite(value):
            raise UndecodableTerm("a float that is not finite", offset=start, tag=tag)
        return value

    def term(self, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise UndecodableTerm(f"nested deeper than {MAX_DEPTH}", offset=self.offset)
        start = self.offset
        tag = self.u8(None)
        if tag == SMALL_INTEGER:
            return self.u8(tag)
        if tag == INTEGER:
            return int.from_bytes(self.take(4, tag), "big", signed=True)
        if tag in (SMALL_BIG, LARGE_BIG):
            count = self.u8(tag) if tag == SMALL_BIG else self.u32(tag)
            sign = self.u8(tag)
            magnitude = int.from_bytes(self.take(count, tag), "little")
            return -magnitude if sign else magnitude
        if tag in (NEW_FLOAT, FLOAT):
            return self.float(tag, start)
        if tag in (ATOM, SMALL_ATOM, ATOM_UTF8, SMALL_ATOM_UTF8):
            length = self.u8(tag) if tag in (SMALL_ATOM, SMALL_ATOM_UTF8) else self.u16(tag)
            encoding = "latin-1" if tag in (ATOM, SMALL_ATOM) else "utf-8"
            try:
                return _atom(self.take(length, tag).decode(encoding))
            except UnicodeDecodeError:
                raise UndecodableTerm("atom text is not UTF-8", offset=start, tag=tag) from None
        if tag == BINARY:
            return _binary(self.take(self.u32(tag), tag))
        if tag == BIT_BINARY:
            length = self.u32(tag)
            bits = self.u8(tag)
            chunk = self.take(length, tag)
            if not 1 <= bits <= 8 or (length == 0 and bits != 8):
                raise UndecodableTerm(f"bad bit count {bits}", offset=start, tag=tag)
            if bits == 8:
                return _binary(chunk)
            return {"__bits__": base64.b64encode(chunk).decode("ascii"), "bits_in_last_byte": bits}
        if tag == STRING:
            return list(self.take(self.u16(tag), tag))
        if tag == NIL:
            return []
        if tag == LIST:
            items = [self.term(depth + 1) for _ in range(self.u32(tag))]
            tail = self.term(depth + 1)
            if isinstance(tail, list) and not tail:
                return items
            return {"__improper_list__": items, "__tail__": tail}
        if tag in (SMALL_TUPLE, LARGE_TUPLE):
            arity = self.u8(tag) if tag == SMALL_TUPLE else self.u32(tag)
            return tuple(self.term(depth + 1) for _ in range(arity))
        if tag == MAP:
            arity = self.u32(tag)
            pairs = [(self.term(depth + 1), self.term(depth + 1)) for _ in range(arity)]
            return _map(pairs)
        raise UndecodableTerm("unsupported term type", offset=start, tag=tag)


def _atom(text: str) -> Any:
    if text == "true":
        return True
    if text == "false":
        return False
    if text == "nil":
        return None
    return _Atom(text)


def _binary(chunk: bytes) -> Any:
    try:
        return chunk.decode("utf-8")
    except UnicodeDecodeError:
        return {"__bytes__": base64.b64encode(chunk).decode("ascii")}


def _map(pairs: list[tuple[Any, Any]]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for key, value in pairs:
        fields[_key(key)] = value
    module = fields.get("__struct__")
    if isinstance(module, _Atom):
        special = _SPECIAL_STRUCTS.get(module)
        if special is not None:
            try:
                return special(fields)
            except (KeyError, TypeError, ValueError, InvalidOperation, OverflowError):
                pass  # not laid out as that struct: shown as a plain struct below
        fields["__struct__"] = module_name(module)
    return fields


def _key(key: Any) -> str:
    if isinstance(key, _Atom):
        return module_name(key)
    if isinstance(key, str):
        return key
    return json.dumps(_public(key), sort_keys=True)


def _public(value: Any) -> Any:
    """`value` with atoms as display text and tuples as lists (JSON-ready)."""
    if isinstance(value, _Atom):
        return module_name(value)
    if isinstance(value, tuple | list):
        return [_public(item) for item in value]
    if isinstance(value, dict):
        return {key: _public(item) for key, item in value.items()}
    return value


def _int(fields: dict[str, Any], name: str) -> int:
    value = fields[name]
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(name)
    return value


def _fraction(fields: dict[str, Any]) -> str:
    microsecond = fields.get("microsecond", (0, 0))
    if not isinstance(microsecond, tuple) or len(microsecond) != 2:
        raise TypeError("microsecond")
    value, precision = microsecond
    if not isinstance(value, int) or not isinstance(precision, int) or not 0 <= precision <= 6:
        raise TypeError("microsecond")
    if precision == 0:
        return ""
    return "." + f"{value:06d}"[:precision]


def _date(fields: dict[str, Any]) -> str:
    year = _int(fields, "year")
    sign = "-" if year < 0 else ""
    return f"{sign}{abs(year):04d}-{_int(fields, 'month'):02d}-{_int(fields, 'day'):02d}"


def _time(fields: dict[str, Any]) -> str:
    hours, minutes, seconds = (_int(fields, name) for name in ("hour", "minute", "second"))
    return f"{hours:02d}:{minutes:02d}:{seconds:02d}{_fraction(fields)}"


def _naive_datetime(fields: dict[str, Any]) -> str:
    return f"{_date(fields)}T{_time(fields)}"


def _datetime(fields: dict[str, Any]) -> str:
    offset = _int(fields, "utc_offset") + _int(fields, "std_offset")
    zone = fields.get("time_zone")
    if offset == 0 and zone == "Etc/UTC":
        suffix = "Z"
    else:
        sign = "-" if offset < 0 else "+"
        hours, rest = divmod(abs(offset), 3600)
        suffix = f"{sign}{hours:02d}:{rest // 60:02d}"
    return f"{_naive_datetime(fields)}{suffix}"


def _decimal(fields: dict[str, Any]) -> str:
    sign = _int(fields, "sign")
    coef = fields["coef"]
    negative = sign < 0
    if coef == "inf":
        return "-Infinity" if negative else "Infinity"
    if coef == "NaN":
        return "NaN"
    if isinstance(coef, bool) or not isinstance(coef, int) or coef < 0:
        raise TypeError("coef")
    digits = tuple(int(digit) for digit in str(coef))
    return str(Decimal((1 if negative else 0, digits, _int(fields, "exp"))))


_SPECIAL_STRUCTS: Final = {
    "Elixir.DateTime": _datetime,
    "Elixir.NaiveDateTime": _naive_datetime,
    "Elixir.Date": _date,
    "Elixir.Time": _time,
    "Elixir.Decimal": _decimal,
}
