"""The sync parser without the database: its rules agree with the shared reference validators."""

from __future__ import annotations

import itertools
import json
import re

from pydantic import ValidationError

from toit_emploi_api.housing import sync_input
from toit_emploi_api.reference.codes import is_valid_insee_commune


def test_insee_pattern_accepts_exactly_the_reference_codes() -> None:
    pattern = re.compile(sync_input._INSEE)
    samples = ["".join(p) for p in itertools.product("0129", "0129AB", "09", "0", "09")]
    samples += ["15014", "2A004", "2B033", "20004", "00123", "97101", "98735", "1501", "150140", "2C004"]
    for code in samples:
        assert bool(pattern.fullmatch(code)) == is_valid_insee_commune(code), code


def test_csv_and_json_carry_the_same_fields() -> None:
    assert set(sync_input.COLUMNS) == set(sync_input.SyncUnit.__annotations__)
    assert len(set(sync_input.CSV_HEADERS)) == len(sync_input.CSV_HEADERS)


def test_columns_are_ready_for_unnest() -> None:
    body = b'{"units": [{"landlord_reference": " A-1 ", "commune_insee": "2a004", "postcode": "20000",'
    body += b' "rooms": 3, "rent": 412.3, "street_name": "", "latitude": 41.92345678}]}'
    parsed = sync_input.parse_json(body, None)
    assert parsed.mode == "snapshot"
    assert parsed.errors == []
    cols = parsed.columns
    assert cols["landlord_reference"] == ["A-1"]
    assert cols["commune_insee"] == ["2A004"]
    assert cols["rooms"] == [3]
    assert cols["rent"] == ["412.30"]
    assert cols["charges"] == ["0.00"]
    assert cols["street_name"] == [None]
    assert cols["latitude"] == ["41.923457"]
    assert cols["is_relay"] == [False]


def _full_path(body: bytes) -> sync_input.ParsedSync:
    """What ``parse_json`` returned before its fast path: ``DOCUMENT`` then ``_finish``."""
    try:
        document = sync_input.DOCUMENT.validate_json(body, strict=True)
    except ValidationError as exc:
        return sync_input._parse_json_slowly(body, None, exc)
    units = document["units"]
    mode = sync_input._mode(document.get("mode"), None)
    return sync_input._finish(sync_input.ParsedSync(mode=mode), units, {}, units, csv_names=False, json_rows=True)


def _same(a: sync_input.ParsedSync, b: sync_input.ParsedSync) -> None:
    assert (a.mode, a.received, a.columns, a.errors, a.invalid_rows, a.seen_references) == (
        b.mode,
        b.received,
        b.columns,
        b.errors,
        b.invalid_rows,
        b.seen_references,
    )


def test_fast_path_gives_what_the_full_path_gives() -> None:
    base = {"landlord_reference": "A-1", "commune_insee": "15014", "postcode": "15000", "rooms": 3, "rent": "412.30"}
    # Decimal texts at and around every bound: the canonical ones take the fast path, the others the full one; both
    # must end in the same columns or the same row errors.
    decimals = {
        "rent": ["0.00", "999999.99", "1000000.00", "412.3", "0412.30", "-0.01", "1e2", " 1.00", "12.345"],
        "charges": ["0.00", "999999.99", "1000000.00", "5", "5.10"],
        "living_area_m2": ["0.00", "0.01", "0.10", "9999.99", "10000.00", "0.001", "45.50"],
        "latitude": ["90.000000", "90.000001", "-90.000000", "-0.000000", "89.999999", "09.000000", "45.5"],
        "longitude": ["180.000000", "180.000001", "-180.000000", "179.999999", "99.000000", "100.000000", "7"],
    }
    fast_taken = 0
    for column, values in decimals.items():
        for value in values:
            for extra in ({}, {"street_name": "", "is_relay": None, "charges": None}):
                unit = {**base, **extra, column: value}
                body = json.dumps({"mode": "delta", "units": [unit, {**unit, "landlord_reference": "A-2"}]}).encode()
                fast = sync_input._parse_json_fast(body, None)
                fast_taken += fast is not None
                _same(sync_input.parse_json(body, None), _full_path(body))
                if fast is not None:
                    _same(fast, _full_path(body))
    assert fast_taken > 20  # the canonical texts did take the fast path


def test_fast_path_leaves_duplicates_and_late_dates_to_the_full_path() -> None:
    unit = {"landlord_reference": "A-1", "commune_insee": "15014", "postcode": "15000", "rooms": 3, "rent": "1.00"}
    duplicated = json.dumps({"units": [unit, {**unit, "landlord_reference": " A-1"}]}).encode()
    late = json.dumps({"units": [{**unit, "available_from": "2099-01-01"}]}).encode()
    for body in (duplicated, late):
        assert sync_input._parse_json_fast(body, None) is None
        parsed = sync_input.parse_json(body, None)
        assert parsed.invalid_rows > 0
        _same(parsed, _full_path(body))
