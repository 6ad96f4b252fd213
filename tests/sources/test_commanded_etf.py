"""The Erlang term decoder reads what OTP's `term_to_binary` wrote, and refuses the rest."""

from __future__ import annotations

import contextlib
import json
import random
import zlib

import pytest

from tests.sources.etf_fixtures import FIXTURES
from webapp.sources.commanded.etf import UndecodableTerm, decode, module_name

EXPECTED = {
    "small_integer": 255,
    "integer_negative": -70000,
    "integer_large": 2147483647,
    "small_big": -123456789012345678901234567890,
    "large_big": 1 << 2100,
    "new_float": 3.25,
    "old_float": -1.5,
    "atoms_latin1": [True, False, None, "ok", "MyApp.Deposited"],
    "atoms_utf8": [True, None, "ok", "MyApp.Deposited", "café"],
    "binary_text": "héllo",
    "binary_bytes": {"__bytes__": "AP/+"},
    "bit_binary": {"__bits__": "oA==", "bits_in_last_byte": 3},
    "charlist": [97, 98, 99],
    "list": [1, "two", [3]],
    "empty_list": [],
    "improper_list": {"__improper_list__": [1, 2], "__tail__": "three"},
    "tuple": ["ok", 1, "x"],
    "large_tuple": list(range(1, 301)),
    "map": {"a": 1, "b": [1, 2], "[1, 2]": "x", "7": "seven"},
    "empty_map": {},
    "deposited_struct": {
        "__struct__": "MyApp.Deposited",
        "account_id": "acc-1",
        "amount": 250,
        "note": None,
    },
    "datetime_utc": "2024-05-01T12:30:45.123456Z",
    "datetime_offset": "2024-07-09T08:05:03.120+02:00",
    "naive_datetime": "2023-12-31T23:59:59",
    "date": "2024-02-29",
    "time": "07:00:01.005000",
    "decimal": "-12.50",
    "decimal_inf": "Infinity",
    "event_with_nested": {
        "__struct__": "MyApp.Events.Deposited",
        "account_id": "account-1",
        "amount": "105.0",
        "at": "2024-05-01T12:00:00Z",
        "tags": ["a", "b"],
    },
    "compressed": {"__struct__": "MyApp.Note", "text": "z" * 200},
    "empty_metadata": {},
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_term_reads_as_json_ready_values(name: str) -> None:
    _term, data = FIXTURES[name]
    value = decode(data)
    assert value == EXPECTED[name]
    assert json.loads(json.dumps(value)) == value


def test_the_fixtures_use_the_tags_they_are_named_for() -> None:
    tags = {name: data[1] for name, (_term, data) in FIXTURES.items()}
    assert tags["old_float"] == 99
    assert tags["large_big"] == 111
    assert tags["large_tuple"] == 105
    assert tags["compressed"] == 80
    assert 100 in FIXTURES["atoms_latin1"][1]
    assert 119 in FIXTURES["atoms_utf8"][1]
    assert FIXTURES["empty_metadata"][1] == bytes([0x83, 0x74, 0, 0, 0, 0])


def test_utf8_atoms_of_both_lengths_read() -> None:
    long_name = "é" * 200  # ATOM_UTF8 (118): more than 255 bytes
    data = bytes([131, 118]) + (400).to_bytes(2, "big") + long_name.encode()
    assert decode(data) == long_name
    assert decode(bytes([131, 119, 2]) + "é".encode()) == "é"
    assert decode(bytes([131, 115, 3]) + b"nil") is None


def test_a_pid_is_refused_with_its_tag_and_offset() -> None:
    with pytest.raises(UndecodableTerm) as caught:
        decode(FIXTURES["pid"][1])
    assert caught.value.tag == 88
    assert caught.value.offset == 1
    assert "tag 88 at offset 1" in str(caught.value)


def test_a_struct_not_laid_out_as_its_module_stays_a_struct() -> None:
    # #{'__struct__' => 'Elixir.DateTime', year => 7}: fields missing
    data = b"\x83t\x00\x00\x00\x02d\x00\n__struct__d\x00\x0fElixir.DateTimed\x00\x04yeara\x07"
    assert decode(data) == {"__struct__": "DateTime", "year": 7}


def test_module_names_lose_the_elixir_prefix_only() -> None:
    assert module_name("Elixir.MyApp.Deposited") == "MyApp.Deposited"
    assert module_name("ok") == "ok"


def _truncations() -> list[bytes]:
    cases = []
    for _term, data in FIXTURES.values():
        cases += [data[:cut] for cut in range(len(data)) if cut < 40 or cut % 97 == 0]
    return cases


def test_every_truncation_is_undecodable_and_nothing_else() -> None:
    for data in _truncations():
        with pytest.raises(UndecodableTerm):
            decode(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"{}",
        b"\x83",
        b"\x83\x00",
        b"\x83a\x01\x02",  # bytes after the term
        b"\x83P\x00\x00\x00\x10garbage",
        b"\x83P\xff\xff\xff\xff" + zlib.compress(b"a\x01"),
        b"\x83P\x00\x00\x00\x05" + zlib.compress(b"a\x01"),
        b"\x83M\x00\x00\x00\x01\x09\xff",  # 9 bits in a byte
        b"\x83c" + b"not a float".ljust(31, b"\0"),
        b"\x83F\x7f\xf8\x00\x00\x00\x00\x00\x00",  # NaN, which Erlang never writes
        b"\x83v\x00\x02\xff\xfe",  # an atom that is not UTF-8
        b"\x83l" + b"\xff\xff\xff\xff" + b"j",  # a list claiming 4 billion items
        b"\x83" + b"l\x00\x00\x00\x01" * 1000 + b"j" * 1001,  # too deep
    ],
)
def test_corrupt_input_is_undecodable_and_nothing_else(data: bytes) -> None:
    with pytest.raises(UndecodableTerm):
        decode(data)


def test_random_corruption_raises_only_undecodable_term() -> None:
    chance = random.Random(7)
    for _term, data in FIXTURES.values():
        for _ in range(30):
            mutated = bytearray(data)
            for _ in range(chance.randint(1, 3)):
                mutated[chance.randrange(1, len(mutated))] = chance.randrange(256)
            with contextlib.suppress(UndecodableTerm):
                json.dumps(decode(bytes(mutated)), allow_nan=False)
