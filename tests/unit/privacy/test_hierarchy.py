"""Generalisation hierarchies: known answers for each step, and levels applied in order."""

from __future__ import annotations

import pyarrow as pa
import pytest

from schemas.model import GeneraliseStep
from tests.unit.privacy.policies import privacy_policy, table
from transforms.privacy.hierarchy import Hierarchy, quarter, step_function, wider_band, year_of


@pytest.mark.parametrize(
    ("label", "width", "top", "expected"),
    [
        ("35-39", 10, 90, "30-39"),
        ("30-34", 10, 90, "30-39"),
        ("0-4", 10, 90, "0-9"),
        ("5-9", 10, 90, "0-9"),
        ("35-39", 20, 90, "20-39"),
        ("60-64", 20, 90, "60-79"),
        ("75-79", 20, 90, "60-79"),
        ("80-84", 20, 90, "80-89"),  # the band stops below the top code
        ("85-89", 20, 90, "80-89"),
        ("85-89", 10, 90, "80-89"),
        ("30-39", 20, 90, "20-39"),  # an already widened band widens again
        ("90+", 10, 90, "90+"),
        ("90+", 20, 90, "90+"),
    ],
)
def test_wider_band(label, width, top, expected):
    assert wider_band(label, width, top) == expected


@pytest.mark.parametrize(
    ("month", "expected"),
    [
        ("2021-01", "2021-Q1"),
        ("2021-03", "2021-Q1"),
        ("2021-04", "2021-Q2"),
        ("2021-06", "2021-Q2"),
        ("2021-07", "2021-Q3"),
        ("2021-09", "2021-Q3"),
        ("2021-10", "2021-Q4"),
        ("2021-12", "2021-Q4"),
    ],
)
def test_quarter(month, expected):
    assert quarter(month) == expected


def test_year_of_a_month_or_a_quarter():
    assert year_of("2021-03") == "2021"
    assert year_of("2021-Q4") == "2021"


def test_step_functions_keep_nulls_and_length():
    policy = privacy_policy()
    values = pa.array(["35-39", None, "90+", "35-39"], pa.string())
    widen = step_function(policy, GeneraliseStep("classe_age", "10"))
    assert widen(values).to_pylist() == ["30-39", None, "90+", "30-39"]
    region = step_function(policy, GeneraliseStep("departement", "region"))
    assert region(pa.array(["56", None, "2A"])).to_pylist() == ["Bretagne", None, "Corse"]
    month = step_function(policy, GeneraliseStep("mois", "year"))
    assert month(pa.array(["2021-03", None])).to_pylist() == ["2021", None]
    suppress = step_function(policy, GeneraliseStep("mois", "suppressed"))
    assert suppress(pa.array(["2021-03", "2021-04"])).to_pylist() == [None, None]


def test_step_function_refuses_a_step_the_column_cannot_take():
    with pytest.raises(ValueError):
        step_function(privacy_policy(), GeneraliseStep("departement", "quarter"))


def test_levels_apply_the_first_n_steps_in_order():
    hierarchy = Hierarchy(privacy_policy())
    assert hierarchy.levels == 6
    rows = table([("p1", "35-39", "56", "2021-03"), ("p2", "80-84", "2A", "2021-11")])
    expected = [
        (["35-39", "80-84"], ["56", "2A"], ["2021-03", "2021-11"]),
        (["35-39", "80-84"], ["56", "2A"], ["2021-Q1", "2021-Q4"]),
        (["30-39", "80-89"], ["56", "2A"], ["2021-Q1", "2021-Q4"]),
        (["30-39", "80-89"], ["Bretagne", "Corse"], ["2021-Q1", "2021-Q4"]),
        (["30-39", "80-89"], ["Bretagne", "Corse"], ["2021", "2021"]),
        (["30-39", "80-89"], ["Bretagne", "Corse"], [None, None]),
    ]
    for level, (ages, places, months) in enumerate(expected):
        out = hierarchy.generalise(rows, level)
        assert out.column("classe_age").to_pylist() == ages, level
        assert out.column("departement").to_pylist() == places, level
        assert out.column("mois").to_pylist() == months, level
        assert out.column("patient_token").to_pylist() == ["p1", "p2"]
        assert out.schema == rows.schema


def test_generalise_accepts_chunked_and_empty_tables():
    hierarchy = Hierarchy(privacy_policy())
    rows = table([("p1", "35-39", "56", "2021-03")])
    chunked = pa.concat_tables([rows, rows, rows.slice(0, 0)])
    out = hierarchy.generalise(chunked, hierarchy.levels - 1)
    assert out.column("classe_age").to_pylist() == ["30-39"] * 2
    assert hierarchy.generalise(rows.slice(0, 0), 3).num_rows == 0


def test_a_policy_without_privacy_has_no_hierarchy():
    from tests.unit.policies import small_policy

    with pytest.raises(ValueError):
        Hierarchy(small_policy())


def test_generalise_column_matches_the_table_at_every_level():
    hierarchy = Hierarchy(privacy_policy())
    rows = table(
        [
            ("p1", "35-39", "56", "2021-03"),
            ("p2", "80-84", None, "2021-11"),
            ("p3", None, "2A", None),
        ]
    )
    for level in range(hierarchy.levels):
        whole = hierarchy.generalise(rows, level)
        for name in ("classe_age", "departement", "mois"):
            alone = hierarchy.generalise_column(name, rows.column(name).combine_chunks(), level)
            assert alone.to_pylist() == whole.column(name).to_pylist(), (name, level)
    # A column no step names is returned as is.
    tokens = rows.column("patient_token").combine_chunks()
    assert hierarchy.generalise_column("patient_token", tokens, hierarchy.levels - 1) is tokens
