"""Known answers for the `departement` operation (lab-export-v1.md)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from schemas.model import Departement
from transforms.operations import departement


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("56260", "56"),
        ("2A004", "2A"),
        ("2B033", "2B"),
        ("2a004", "2A"),
        ("97209", "972"),
        ("97411", "974"),
        ("98735", "987"),
        ("01001", "01"),
        ("95127", "95"),
        (" 75056 ", "75"),
        ("99350", "99"),
    ],
)
def test_valid_codes(code: str, expected: str) -> None:
    result = departement.apply(pa.array([code]), Departement())
    assert result.values.to_pylist() == [expected]
    assert result.flagged.to_pylist() == [False]


@pytest.mark.parametrize(
    "code",
    ["20004", "96001", "00123", "5626", "562600", "2C004", "2A04", "56 260", "ABCDE", "5626O"],
)
def test_invalid_codes_are_flagged(code: str) -> None:
    result = departement.apply(pa.array([code]), Departement())
    assert result.values.to_pylist() == [None]
    assert result.flagged.to_pylist() == [True]
    assert result.flag_code == "invalid-insee-code"
    assert result.rejected is None


def test_null_and_blank_are_null_not_flagged() -> None:
    result = departement.apply(pa.array([None, "", "  "], pa.string()), Departement())
    assert result.values.to_pylist() == [None, None, None]
    assert result.flagged.to_pylist() == [False, False, False]


def test_empty() -> None:
    result = departement.apply(pa.array([], pa.string()), Departement())
    assert result.values.to_pylist() == [] and result.flagged.to_pylist() == []


def test_chunk_independence() -> None:
    values = pa.array(["56260", "20004", None, "2A004", "97209", "", "x"])
    whole = departement.apply(values, Departement())
    for cut in range(len(values) + 1):
        parts = [
            departement.apply(values[:cut], Departement()),
            departement.apply(values[cut:], Departement()),
        ]
        assert pa.concat_arrays([p.values for p in parts]).equals(whole.values)
        assert pa.concat_arrays([p.flagged for p in parts]).equals(whole.flagged)
