"""Known answers for the `year` operation."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from schemas.model import Year
from transforms.operations import year


def test_dates_and_timestamps() -> None:
    dates = pa.array([dt.date(2021, 3, 1), None, dt.date(1850, 1, 1)])
    result = year.apply(dates, Year())
    assert result.values.type == pa.int32()
    assert result.values.to_pylist() == [2021, None, 1850]
    assert result.flagged is None and result.rejected is None
    stamps = pa.array([dt.datetime(2021, 12, 31, 23, 59), None], pa.timestamp("s"))
    assert year.apply(stamps, Year()).values.to_pylist() == [2021, None]


def test_aware_timestamp_uses_local_time() -> None:
    stamps = pa.array([dt.datetime(2021, 12, 31, 23, 30)], pa.timestamp("s", tz="UTC"))
    paris = stamps.cast(pa.timestamp("s", tz="Europe/Paris"))
    assert year.apply(paris, Year()).values.to_pylist() == [2022]


def test_empty_and_wrong_type() -> None:
    assert len(year.apply(pa.array([], pa.date32()), Year()).values) == 0
    with pytest.raises(TypeError):
        year.apply(pa.array(["2021"]), Year())


def test_chunk_independence() -> None:
    dates = pa.array([dt.date(2000 + i, 1, 1) if i % 3 else None for i in range(10)])
    whole = year.apply(dates, Year()).values
    for cut in range(len(dates) + 1):
        parts = [year.apply(dates[:cut], Year()).values, year.apply(dates[cut:], Year()).values]
        assert pa.concat_arrays(parts).equals(whole)


def test_null_typed_column() -> None:
    assert year.apply(pa.nulls(2), Year()).values.to_pylist() == [None, None]
