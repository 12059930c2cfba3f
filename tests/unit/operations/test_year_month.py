"""Known answers for the `year_month` operation."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from schemas.model import YearMonth
from transforms.operations import year_month


def test_dates() -> None:
    dates = pa.array([dt.date(2021, 3, 1), None, dt.date(1999, 12, 31), dt.date(2200, 1, 1)])
    result = year_month.apply(dates, YearMonth())
    assert result.values.type == pa.string()
    assert result.values.to_pylist() == ["2021-03", None, "1999-12", "2200-01"]
    assert result.flagged is None and result.rejected is None


def test_timestamps() -> None:
    stamps = pa.array(
        [dt.datetime(2021, 3, 1, 8, 12), dt.datetime(2021, 10, 31, 23, 59), None],
        pa.timestamp("s"),
    )
    assert year_month.apply(stamps, YearMonth()).values.to_pylist() == ["2021-03", "2021-10", None]


def test_aware_timestamp_uses_local_time() -> None:
    utc = pa.array([dt.datetime(2021, 2, 28, 23, 30)], pa.timestamp("s", tz="UTC"))
    paris = utc.cast(pa.timestamp("s", tz="Europe/Paris"))
    assert year_month.apply(paris, YearMonth()).values.to_pylist() == ["2021-03"]


def test_years_outside_four_digits() -> None:
    dates = pa.array([dt.date(999, 7, 1), dt.date(2021, 3, 1)])
    assert year_month.apply(dates, YearMonth()).values.to_pylist() == ["0999-07", "2021-03"]


def test_empty_all_null_and_wrong_type() -> None:
    assert year_month.apply(pa.array([], pa.date32()), YearMonth()).values.to_pylist() == []
    nulls = pa.nulls(2, pa.date32())
    assert year_month.apply(nulls, YearMonth()).values.to_pylist() == [None, None]
    with pytest.raises(TypeError):
        year_month.apply(pa.array(["2021-03-01"]), YearMonth())


def test_chunk_independence() -> None:
    dates = pa.array([dt.date(2020, 1 + i, 1) if i % 4 else None for i in range(12)])
    whole = year_month.apply(dates, YearMonth()).values
    for cut in range(len(dates) + 1):
        parts = [
            year_month.apply(dates[:cut], YearMonth()),
            year_month.apply(dates[cut:], YearMonth()),
        ]
        assert pa.concat_arrays([p.values for p in parts]).equals(whole)


def test_null_typed_column() -> None:
    assert year_month.apply(pa.nulls(2), YearMonth()).values.to_pylist() == [None, None]
