"""Known answers and properties of `transforms.casting.cast_column`."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.model import InputFormat
from transforms.casting import OUTPUT_TYPES, cast_column

FMT = InputFormat()


def cast(values: list, column_type: str, type_: pa.DataType | None = None, fmt=FMT):
    result = cast_column(pa.array(values, type_), column_type, fmt)
    assert result.values.type == OUTPUT_TYPES[column_type]
    assert len(result.values) == len(values)
    if result.rejected is not None:
        assert result.rejected.type == pa.bool_()
        assert result.rejected.null_count == 0
        assert len(result.rejected) == len(values)
    return result


def test_output_types_cover_every_column_type() -> None:
    assert set(OUTPUT_TYPES) == {"string", "integer", "number", "date", "datetime"}
    assert OUTPUT_TYPES["datetime"] == pa.timestamp("s")


def test_unknown_type_is_refused() -> None:
    with pytest.raises(ValueError):
        cast_column(pa.array(["1"]), "boolean", FMT)


# Dates ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("17/05/1984", dt.date(1984, 5, 17)),
        ("29/02/2020", dt.date(2020, 2, 29)),
        (" 01/03/2021 ", dt.date(2021, 3, 1)),
        ("\t31/12/2200", dt.date(2200, 12, 31)),
        ("01/01/1850", dt.date(1850, 1, 1)),
    ],
)
def test_valid_dates(text: str, expected: dt.date) -> None:
    result = cast([text], "date")
    assert result.values.to_pylist() == [expected]
    assert result.rejected.to_pylist() == [False]
    assert result.reject_code == "invalid-date"


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2021",  # arrow alone rolls it over to 03/03/2021
        "29/02/2021",
        "31/04/2021",
        "00/01/2021",
        "01/13/2021",
        "01/01/0000",  # year 0
        "31/12/1849",
        "01/01/2201",
        "1/1/2020",  # not zero-padded
        "01/1/2020",
        "01/01/20",
        "2021-03-01",
        "01/03/2021 08:12",
        "01-03-2021",
        "01/03/2021x",
        "O1/03/2021",
        "\u0660\u0661/\u0660\u0663/\u0662\u0660\u0662\u0661",  # Arabic-Indic digits
        "hier",
    ],
)
def test_invalid_dates_are_rejected(text: str) -> None:
    result = cast([text], "date")
    assert result.values.to_pylist() == [None]
    assert result.rejected.to_pylist() == [True]
    assert result.reject_code == "invalid-date"


def test_null_and_blank_dates_stay_null_without_rejection() -> None:
    result = cast([None, "", "   "], "date")
    assert result.values.to_pylist() == [None, None, None]
    assert result.rejected.to_pylist() == [False, False, False]


def test_datetimes() -> None:
    texts = [
        "01/03/2021 08:12",
        "31/12/2021 23:59",
        "01/03/2021 24:00",
        "01/03/2021 23:60",
        "01/03/2021 8:12",
        "29/02/2021 08:12",
        "01/03/2021",
        None,
    ]
    result = cast(texts, "datetime")
    assert result.values.to_pylist() == [
        dt.datetime(2021, 3, 1, 8, 12),
        dt.datetime(2021, 12, 31, 23, 59),
        *[None] * 6,
    ]
    assert result.rejected.to_pylist() == [False, False, True, True, True, True, True, False]
    assert result.reject_code == "invalid-datetime"


def test_other_fixed_width_formats() -> None:
    fmt = InputFormat(date_format="%Y-%m-%d", datetime_format="%Y-%m-%dT%H:%M:%S")
    dates = cast(["2021-03-01", "2021-02-30", "2021-3-1"], "date", fmt=fmt)
    assert dates.values.to_pylist() == [dt.date(2021, 3, 1), None, None]
    times = cast(["2021-03-01T08:12:59", "2021-03-01T08:12:60"], "datetime", fmt=fmt)
    assert times.values.to_pylist() == [dt.datetime(2021, 3, 1, 8, 12, 59), None]
    short = cast(["01/03/21", "31/02/21"], "date", fmt=InputFormat(date_format="%d/%m/%y"))
    assert short.values.to_pylist() == [dt.date(2021, 3, 1), None]


def test_variable_width_format_uses_a_round_trip() -> None:
    fmt = InputFormat(date_format="%d %b %Y")
    result = cast(["01 Mar 2021", "31 Feb 2021", "1 Mar 2021", "01 Mar 0000"], "date", fmt=fmt)
    assert result.values.to_pylist() == [dt.date(2021, 3, 1), None, None, None]
    assert result.rejected.to_pylist() == [False, True, True, True]


def test_native_dates_and_timestamps() -> None:
    day = dt.date(2021, 3, 1)
    assert cast([day, None], "date", pa.date32()).values.to_pylist() == [day, None]
    moment = dt.datetime(2021, 3, 1, 8, 12, 30, 999)
    # timestamp -> date, including before 1970 (floor, not truncation towards zero)
    early = dt.datetime(1969, 12, 31, 23, 59)
    assert cast([moment, early], "date", pa.timestamp("ms")).values.to_pylist() == [
        day,
        dt.date(1969, 12, 31),
    ]
    # date -> timestamp, sub-second precision dropped
    assert cast([day], "datetime", pa.date32()).values.to_pylist() == [dt.datetime(2021, 3, 1)]
    assert cast([moment], "datetime", pa.timestamp("us")).values.to_pylist() == [
        dt.datetime(2021, 3, 1, 8, 12, 30)
    ]
    # an aware timestamp gives its local wall-clock time
    paris = cast([dt.datetime(2021, 3, 1, 23, 30)], "date", pa.timestamp("s", tz="Europe/Paris"))
    assert paris.values.to_pylist() == [dt.date(2021, 3, 2)]
    # the year range applies to native values too
    old = cast([dt.date(1000, 1, 1)], "date", pa.date32())
    assert old.values.to_pylist() == [None]
    assert old.rejected.to_pylist() == [True]


def test_native_strings_of_other_layouts() -> None:
    dates = cast(["01/03/2021"], "date", pa.large_string())
    assert dates.values.to_pylist() == [dt.date(2021, 3, 1)]
    encoded = pa.array(["01/03/2021", "x", "01/03/2021"]).dictionary_encode()
    result = cast_column(encoded, "date", FMT)
    assert result.rejected.to_pylist() == [False, True, False]


def test_all_null_column() -> None:
    for column_type in OUTPUT_TYPES:
        result = cast_column(pa.nulls(3), column_type, FMT)
        assert result.values.type == OUTPUT_TYPES[column_type]
        assert result.values.null_count == 3
        if result.rejected is not None:
            assert result.rejected.to_pylist() == [False] * 3


# Numbers ----------------------------------------------------------------------------


def test_numbers_with_decimal_comma_or_dot() -> None:
    texts = ["5,4", " 5.4 ", "-3", "+2,50", ",5", "1e-3", "1,5E2", "007", None, ""]
    result = cast(texts, "number")
    assert result.values.to_pylist() == [5.4, 5.4, -3.0, 2.5, 0.5, 0.001, 150.0, 7.0, None, None]
    assert not any(result.rejected.to_pylist())
    assert result.reject_code == "invalid-number"


@pytest.mark.parametrize(
    "text",
    ["<0,5", ">10", "1 234", "1.234,5", "5,4,3", "2,", "POSITIF", "nan", "inf", "1e400", "-"],
)
def test_invalid_numbers_are_rejected(text: str) -> None:
    result = cast([text], "number")
    assert result.values.to_pylist() == [None]
    assert result.rejected.to_pylist() == [True]


def test_decimal_dot_format_refuses_commas() -> None:
    result = cast(["5.4", "5,4"], "number", fmt=InputFormat(decimal="."))
    assert result.values.to_pylist() == [5.4, None]


def test_integers() -> None:
    texts = [
        "42",
        " +5 ",
        "-0007",
        "9223372036854775807",
        "-9223372036854775808",
        "9223372036854775808",
        "-9223372036854775809",
        "123456789012345678901234",
        "5,0",
        "5.0",
        "1e3",
        "",
        None,
    ]
    result = cast(texts, "integer")
    assert result.values.to_pylist() == [42, 5, -7, 2**63 - 1, -(2**63), *[None] * 8]
    assert result.rejected.to_pylist() == [False] * 5 + [True] * 6 + [False] * 2
    assert result.reject_code == "invalid-integer"


def test_native_numbers() -> None:
    assert cast([1, None], "integer", pa.int8()).values.to_pylist() == [1, None]
    big = cast([2**64 - 1, 3], "integer", pa.uint64())
    assert big.values.to_pylist() == [None, 3]
    assert big.rejected.to_pylist() == [True, False]
    floats = cast([1.0, 1.5, float("nan"), None], "integer", pa.float32())
    assert floats.values.to_pylist() == [1, None, None, None]
    assert floats.rejected.to_pylist() == [False, True, True, False]
    assert cast([3, None], "number", pa.int32()).values.to_pylist() == [3.0, None]
    numbers = cast([1.5, float("inf")], "number", pa.float32())
    assert numbers.values.to_pylist() == [1.5, None]
    assert numbers.rejected.to_pylist() == [False, True]


# Strings ----------------------------------------------------------------------------


def test_strings_pass_through_and_anything_becomes_text() -> None:
    result = cast([" Marie ", None, ""], "string")
    assert result.values.to_pylist() == [" Marie ", None, ""]
    assert result.rejected is None
    assert cast([12, None], "string", pa.int64()).values.to_pylist() == ["12", None]
    assert cast([dt.date(2021, 3, 1)], "string").values.to_pylist() == ["2021-03-01"]


# Empty arrays and batch boundaries ---------------------------------------------------


@pytest.mark.parametrize("column_type", list(OUTPUT_TYPES))
def test_empty_array(column_type: str) -> None:
    result = cast_column(pa.array([], pa.string()), column_type, FMT)
    assert len(result.values) == 0
    assert result.values.type == OUTPUT_TYPES[column_type]


@pytest.mark.parametrize(
    ("column_type", "texts"),
    [
        ("date", ["01/03/2021", "31/02/2021", None, "", "1/1/2020", "29/02/2020"]),
        ("datetime", ["01/03/2021 08:12", "01/03/2021 24:00", None, "x", "02/03/2021 00:00"]),
        ("number", ["5,4", "<0,5", None, "7", "1e400", "-2.5"]),
        ("integer", ["1", "99999999999999999999", None, "x", "-4", "12"]),
    ],
)
def test_chunk_independence(column_type: str, texts: list) -> None:
    values = pa.array(texts)
    whole = cast_column(values, column_type, FMT)
    for cut in range(len(texts) + 1):
        parts = [
            cast_column(values[:cut], column_type, FMT),
            cast_column(values[cut:], column_type, FMT),
        ]
        joined = pa.concat_arrays([p.values for p in parts])
        rejected = pa.concat_arrays([p.rejected for p in parts])
        assert joined.equals(whole.values)
        assert rejected.equals(whole.rejected)


def test_chunked_array_input() -> None:
    chunked = pa.chunked_array([["01/03/2021"], ["31/02/2021"]])
    result = cast_column(chunked, "date", FMT)
    assert result.values.to_pylist() == [dt.date(2021, 3, 1), None]
    assert result.rejected.to_pylist() == [False, True]


# Properties -------------------------------------------------------------------------


def _real_date(day: int, month: int, year: int) -> dt.date | None:
    try:
        found = dt.date(year, month, day)
    except ValueError:
        return None
    return found if 1850 <= year <= 2200 else None


@given(st.lists(st.tuples(st.integers(0, 99), st.integers(0, 99), st.integers(0, 9999))))
def test_a_date_is_accepted_exactly_when_it_is_real(triples: list[tuple[int, int, int]]) -> None:
    texts = [f"{d:02d}/{m:02d}/{y:04d}" for d, m, y in triples]
    result = cast(texts, "date")
    expected = [_real_date(d, m, y) for d, m, y in triples]
    assert result.values.to_pylist() == expected
    assert result.rejected.to_pylist() == [e is None for e in expected]
