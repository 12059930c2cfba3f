"""Known answers for the `bucket` operation."""

from __future__ import annotations

import math

import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from schemas.model import Bucket
from transforms.operations import bucket


def labels(values: list, op: Bucket, type_: pa.DataType | None = None) -> list:
    result = bucket.apply(pa.array(values, type_), op)
    assert result.values.type == pa.string()
    assert result.flagged is None and result.rejected is None
    return result.values.to_pylist()


def test_integers() -> None:
    assert labels([23, 20, 29, 0, -1, -10, -11, None], Bucket(width=10)) == [
        "[20, 30)",
        "[20, 30)",
        "[20, 30)",
        "[0, 10)",
        "[-10, 0)",
        "[-10, 0)",
        "[-20, -10)",
        None,
    ]


def test_top_coding() -> None:
    assert labels([89, 90, 1000, 85], Bucket(width=10, top=90)) == [
        "[80, 90)",
        ">= 90",
        ">= 90",
        "[80, 90)",
    ]
    # a top that the width does not divide: the last interval stops at the top
    assert labels([84, 85, 79], Bucket(width=10, top=85)) == ["[80, 85)", ">= 85", "[70, 80)"]
    assert labels([87.5, 87.4], Bucket(width=10, top=87.5)) == [">= 87.5", "[80, 87.5)"]


def test_floats_and_decimal_widths() -> None:
    assert labels([5.4, 0.3, 0.7, -0.0, -0.25], Bucket(width=0.5)) == [
        "[5, 5.5)",
        "[0, 0.5)",
        "[0.5, 1)",
        "[0, 0.5)",
        "[-0.5, 0)",
    ]
    assert labels([0.3, 0.1, 0.7, 0.29999], Bucket(width=0.1)) == [
        "[0.3, 0.4)",
        "[0.1, 0.2)",
        "[0.7, 0.8)",
        "[0.2, 0.3)",
    ]


def test_non_finite_values_give_null() -> None:
    assert labels([math.nan, math.inf, -math.inf], Bucket(width=1)) == [None, None, None]


def test_empty_and_bad_parameters() -> None:
    assert labels([], Bucket(width=5), pa.float64()) == []
    with pytest.raises(ValueError):
        bucket.apply(pa.array([1]), Bucket(width=0))
    with pytest.raises(TypeError):
        bucket.apply(pa.array(["1"]), Bucket(width=1))


def test_chunk_independence() -> None:
    values = pa.array([23.5, None, -4.0, 90.0, 0.3, 12.0])
    op = Bucket(width=10, top=90)
    whole = bucket.apply(values, op).values
    for cut in range(len(values) + 1):
        parts = [bucket.apply(values[:cut], op), bucket.apply(values[cut:], op)]
        assert pa.concat_arrays([p.values for p in parts]).equals(whole)


@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), max_size=50),
    st.sampled_from([0.1, 0.25, 0.5, 1, 2.5, 5, 10, 100]),
)
def test_each_value_lies_in_its_interval(values: list[float], width: float) -> None:
    for value, label in zip(values, labels(values, Bucket(width=width)), strict=True):
        low, high = (float(bound) for bound in label[1:-1].split(", "))
        assert low <= value < high
        assert math.isclose(high - low, width, rel_tol=1e-6, abs_tol=1e-9)


def test_null_typed_column() -> None:
    assert labels([None, None], Bucket(width=1)) == [None, None]
