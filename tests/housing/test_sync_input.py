"""The sync parser without the database: its rules agree with the shared reference validators."""

from __future__ import annotations

import itertools
import re

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
