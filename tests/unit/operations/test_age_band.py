"""Known answers and a property test for the `age_band` operation."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.model import AgeBand
from transforms.operations import age_band

D = dt.date
FIVE = AgeBand(reference="date_prelevement")


def bands(births: list, references: list, op: AgeBand = FIVE) -> list:
    result = age_band.apply(pa.array(births, pa.date32()), op, reference=pa.array(references))
    assert result.values.type == pa.string()
    assert result.rejected.type == pa.bool_() and result.rejected.null_count == 0
    return result.values.to_pylist()


def test_known_answers() -> None:
    references = [D(2021, 3, 1)] * 6
    births = [
        D(1984, 5, 17),
        D(1986, 3, 1),
        D(1986, 3, 2),
        D(2021, 3, 1),
        D(1931, 3, 1),
        D(1931, 3, 2),
    ]
    assert bands(births, references) == ["35-39", "35-39", "30-34", "0-4", "90+", "85-89"]


def test_leap_day_birthdays() -> None:
    leap = D(2000, 2, 29)
    references = [D(2001, 2, 28), D(2001, 3, 1), D(2004, 2, 28), D(2004, 2, 29), D(2005, 3, 1)]
    ages = age_band.ages(pa.array([leap] * 5), pa.array(references)).to_pylist()
    assert ages == [0, 1, 3, 4, 5]
    op = AgeBand(reference="r", width=1, top=120)
    assert bands([leap] * 5, references, op) == ["0-0", "1-1", "3-3", "4-4", "5-5"]


def test_reference_timestamps_are_cast_to_dates() -> None:
    births = pa.array([D(1986, 3, 1), D(1986, 3, 2)])
    references = pa.array([dt.datetime(2021, 3, 1, 23, 59)] * 2, pa.timestamp("s"))
    assert age_band.apply(births, FIVE, reference=references).values.to_pylist() == [
        "35-39",
        "30-34",
    ]


def test_labels_and_top_not_a_multiple_of_width() -> None:
    assert age_band.band_labels(5, 90)[:3] == ["0-4", "5-9", "10-14"]
    assert age_band.band_labels(5, 90)[-2:] == ["85-89", "90+"]
    assert age_band.band_labels(20, 90) == ["0-19", "20-39", "40-59", "60-79", "80-89", "90+"]
    op = AgeBand(reference="r", width=20, top=90)
    ref = D(2021, 6, 1)
    births = [D(2021 - age, 1, 1) for age in (79, 80, 89, 90, 104)]
    assert bands(births, [ref] * 5, op) == ["60-79", "80-89", "80-89", "90+", "90+"]
    with pytest.raises(ValueError):
        age_band.band_labels(0, 90)


def test_birth_after_reference_is_rejected() -> None:
    births = [D(2021, 3, 2), D(2021, 3, 1), D(2021, 2, 28)]
    result = age_band.apply(pa.array(births), FIVE, reference=pa.array([D(2021, 3, 1)] * 3))
    assert result.values.to_pylist() == [None, "0-4", "0-4"]
    assert result.rejected.to_pylist() == [True, False, False]
    assert result.reject_code == "birth-after-reference"


def test_nulls_give_null_bands_without_rejection() -> None:
    result = age_band.apply(
        pa.array([None, D(1984, 5, 17), None], pa.date32()),
        FIVE,
        reference=pa.array([D(2021, 3, 1), None, None], pa.date32()),
    )
    assert result.values.to_pylist() == [None, None, None]
    assert result.rejected.to_pylist() == [False, False, False]


def test_empty_and_mismatched_lengths() -> None:
    assert bands([], []) == []
    with pytest.raises(ValueError):
        age_band.apply(pa.array([D(2000, 1, 1)]), FIVE, reference=pa.array([], pa.date32()))


def test_chunk_independence() -> None:
    births = pa.array([D(1984, 5, 17), None, D(2022, 1, 1), D(2000, 2, 29), D(1920, 1, 1)])
    references = pa.array([D(2021, 3, 1)] * 4 + [None])
    whole = age_band.apply(births, FIVE, reference=references)
    for cut in range(len(births) + 1):
        parts = [
            age_band.apply(births[:cut], FIVE, reference=references[:cut]),
            age_band.apply(births[cut:], FIVE, reference=references[cut:]),
        ]
        assert pa.concat_arrays([p.values for p in parts]).equals(whole.values)
        assert pa.concat_arrays([p.rejected for p in parts]).equals(whole.rejected)


# Property: agree with a plain datetime.date reference ----------------------------------


def _birthday(birth: dt.date, year: int) -> dt.date:
    """The birthday in `year`; a 29 February birthday falls on 1 March in other years."""
    try:
        return birth.replace(year=year)
    except ValueError:
        return dt.date(year, 3, 1)


def reference_band(birth: dt.date, reference: dt.date, width: int, top: int) -> str | None:
    if birth > reference:
        return None
    age = reference.year - birth.year
    while _birthday(birth, birth.year + age) > reference:
        age -= 1
    if age >= top:
        return f"{top}+"
    low = age // width * width
    return f"{low}-{min(low + width, top) - 1}"


dates = st.dates(min_value=D(1850, 1, 1), max_value=D(2200, 12, 31))
leap_heavy = st.one_of(
    dates,
    st.sampled_from(
        [D(2000, 2, 29), D(2004, 2, 29), D(1900, 2, 28), D(2001, 2, 28), D(2001, 3, 1)]
    ),
)


@given(
    st.lists(st.tuples(leap_heavy, leap_heavy), max_size=40),
    st.integers(1, 30),
    st.integers(1, 130),
)
def test_matches_python_reference(
    pairs: list[tuple[dt.date, dt.date]], width: int, top: int
) -> None:
    births = [b for b, _ in pairs]
    references = [r for _, r in pairs]
    op = AgeBand(reference="r", width=width, top=top)
    result = age_band.apply(
        pa.array(births, pa.date32()), op, reference=pa.array(references, pa.date32())
    )
    assert result.values.to_pylist() == [reference_band(b, r, width, top) for b, r in pairs]
    assert result.rejected.to_pylist() == [b > r for b, r in pairs]


def test_null_typed_columns() -> None:
    result = age_band.apply(pa.nulls(2), FIVE, reference=pa.array([D(2021, 3, 1), None]))
    assert result.values.to_pylist() == [None, None]
    assert result.rejected.to_pylist() == [False, False]
