"""Class measures counted in distinct subjects, merged from any batching."""

from __future__ import annotations

import itertools

import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.privacy.policies import QIS, privacy_policy, table
from transforms.privacy.hierarchy import Hierarchy
from transforms.privacy.measure import (
    SEPARATOR,
    LevelMeasure,
    batch_pairs,
    class_keys,
    measure_levels,
    merge_pairs,
    merge_sensitive,
)

A = ("35-39", "56", "2021-03")
B = ("40-44", "56", "2021-03")
C = ("80-84", "2A", "2021-11")


def key(qis: tuple) -> str:
    return SEPARATOR.join(qis)


def rows_of(*entries: tuple[str | None, tuple]) -> list[tuple]:
    return [(subject, *qis) for subject, qis in entries]


def measure(tbl: pa.Table, **changes) -> list[LevelMeasure]:
    policy = privacy_policy(**changes)
    hierarchy = Hierarchy(policy)
    pairs, sensitive = batch_pairs(tbl, policy.privacy, hierarchy)
    return measure_levels(
        merge_pairs([pairs]), merge_sensitive([sensitive]), policy.privacy, hierarchy.levels
    )


def test_subjects_are_distinct_people_not_rows():
    # One patient with 5 rows is one subject; two patients with one row each are two.
    tbl = table(rows_of(*[("p1", A)] * 5, ("p2", B), ("p3", B)))
    level0 = measure(tbl, k=2)[0]
    assert level0.subjects == 3
    assert level0.classes == 2
    assert level0.class_sizes == {1: 1, 2: 1}
    assert level0.failing_classes == [key(A)]
    assert level0.failing_subjects == 1
    assert level0.failing_rows == 5
    assert level0.unique_subjects == 1
    assert level0.k_after == 2
    assert level0.class_sizes_after == {2: 1}
    assert level0.average_risk_after == pytest.approx(0.5)


def test_a_subject_in_several_classes_counts_in_each():
    tbl = table(rows_of(("p1", A), ("p1", B), ("p2", A), ("p2", B), ("p2", B)))
    level0 = measure(tbl, k=2)[0]
    assert level0.subjects == 2
    assert level0.class_sizes == {2: 2}
    assert level0.failing_classes == []
    assert level0.k_after == 2
    assert level0.unique_subjects == 0


def test_k_counts_distinct_subjects_so_many_rows_do_not_pass():
    tbl = table(rows_of(*[("p1", A)] * 10, *[("p2", A)] * 10))
    level0 = measure(tbl, k=3)[0]
    assert level0.class_sizes == {2: 1}
    assert level0.failing_classes == [key(A)]
    assert (level0.failing_subjects, level0.failing_rows) == (2, 20)
    assert level0.k_after == 0
    assert level0.class_sizes_after == {}
    assert level0.average_risk_after == 0.0


def test_average_risk_is_the_mean_over_remaining_rows_of_one_over_class_size():
    tbl = table(
        rows_of(
            ("p1", A), ("p2", A), ("p2", A),  # 3 rows, class of 2
            ("p3", B), ("p4", B), ("p5", B),  # 3 rows, class of 3
            ("p6", C), ("p6", C),  # suppressed: class of 1
        )
    )  # fmt: skip
    level0 = measure(tbl, k=2)[0]
    assert level0.failing_classes == [key(C)]
    assert level0.k_after == 2
    assert level0.class_sizes == {1: 1, 2: 1, 3: 1}
    assert level0.class_sizes_after == {2: 1, 3: 1}
    assert level0.average_risk_after == pytest.approx((3 / 2 + 3 / 3) / 6)


def test_rows_without_a_subject_never_make_a_class_reach_k():
    # Rows with a null subject may belong to anyone, including a subject already in
    # the class: they add nobody. A class of them alone has 0 subjects.
    tbl = table(
        rows_of(
            ("p1", A), (None, A), (None, A),
            ("p2", B), ("p3", B), (None, B),
            (None, C),
        )
    )  # fmt: skip
    level0 = measure(tbl, k=2)[0]
    assert level0.class_sizes == {1: 1, 2: 1, 0: 1}  # A: p1, B: p2 and p3, C: nobody
    assert sorted(level0.failing_classes) == sorted([key(A), key(C)])
    assert level0.failing_rows == 4
    assert level0.k_after == 2
    assert level0.class_sizes_after == {2: 1}
    # The rows without a subject count as one unknown subject in the totals and shares.
    assert level0.subjects == 4
    assert level0.failing_subjects == 2
    assert level0.average_risk_after == pytest.approx(1 / 2)


def test_a_null_quasi_identifier_is_a_value_of_its_own():
    tbl = table(
        [
            ("p1", "35-39", None, "2021-03"),
            ("p2", "35-39", None, "2021-03"),
            ("p3", "35-39", "56", "2021-03"),
        ]
    )
    level0 = measure(tbl, k=2)[0]
    assert level0.classes == 2
    assert level0.class_sizes == {1: 1, 2: 1}
    assert level0.failing_classes == [key(A)]


def test_levels_merge_classes_as_the_hierarchy_climbs():
    tbl = table(
        [
            ("p1", "35-39", "56", "2021-01"),
            ("p2", "35-39", "56", "2021-02"),
            ("p3", "30-34", "29", "2021-03"),
            ("p4", "30-34", "35", "2021-12"),
        ]
    )
    levels = measure(tbl, k=2)
    assert [m.level for m in levels] == [0, 1, 2, 3, 4, 5]
    assert [m.classes for m in levels] == [4, 3, 3, 2, 1, 1]
    assert [m.k_after for m in levels] == [0, 2, 2, 3, 4, 4]
    assert [m.failing_subjects for m in levels] == [4, 2, 2, 1, 0, 0]
    assert sorted(levels[1].failing_classes) == sorted(
        [key(("30-34", "29", "2021-Q1")), key(("30-34", "35", "2021-Q4"))]
    )
    assert levels[3].failing_classes == [key(("30-39", "Bretagne", "2021-Q4"))]
    assert levels[3].class_sizes == {1: 1, 3: 1}
    assert levels[4].failing_classes == []
    assert levels[4].class_sizes == {4: 1}
    assert all(m.subjects == 4 for m in levels)


def test_failing_classes_are_the_keys_enforcement_matches():
    policy = privacy_policy(k=2)
    tbl = table(rows_of(("p1", A), ("p2", A), ("p3", C)))
    level2 = measure(tbl, k=2)[2]
    generalised = Hierarchy(policy).generalise(tbl, 2)
    keys = class_keys(generalised, QIS).to_pylist()
    assert level2.failing_classes == [keys[2]]
    assert keys[2] == key(("80-89", "2A", "2021-Q4"))


def test_l_diversity_per_sensitive_attribute():
    tbl = table(
        rows_of(
            ("p1", A), ("p2", A), ("p2", A),  # values 1, 1, 2: l = 2
            ("p3", B), ("p4", B),  # values 3, 3: l = 1, fails although k is met
            ("p5", C), ("p6", C),  # values 4, null: null is no value, l = 1
        ),
        sensitive=[1.0, 1.0, 2.0, 3.0, 3.0, 4.0, None],
    )  # fmt: skip
    level0 = measure(tbl, k=2, sensitive=("valeur",), l=2)[0]
    assert level0.class_sizes == {2: 3}
    assert sorted(level0.failing_classes) == sorted([key(B), key(C)])
    assert level0.l_after == {"valeur": 2}
    assert level0.k_after == 2
    assert level0.failing_rows == 4
    # Without l, the same table passes k.
    assert measure(tbl, k=2, sensitive=("valeur",))[0].failing_classes == []


def test_l_after_is_zero_when_every_class_fails():
    tbl = table(rows_of(("p1", A), ("p2", A)), sensitive=[1.0, 1.0])
    level0 = measure(tbl, k=2, sensitive=("valeur",), l=2)[0]
    assert level0.failing_classes == [key(A)]
    assert level0.l_after == {"valeur": 0}
    assert level0.k_after == 0


def test_empty_data():
    levels = measure(table([]))
    assert len(levels) == 6
    assert levels[0] == LevelMeasure(
        level=0,
        subjects=0,
        classes=0,
        class_sizes={},
        failing_classes=[],
        failing_subjects=0,
        failing_rows=0,
        unique_subjects=0,
        k_after=0,
        average_risk_after=0.0,
        l_after={},
        class_sizes_after={},
    )


# --- any batching gives the same answer --------------------------------------------

SUBJECTS = st.sampled_from(["p1", "p2", "p3", "p4", "p5", None])
AGES = st.sampled_from(["30-34", "35-39", "40-44", "90+", None])
PLACES = st.sampled_from(["56", "29", "2A", "971", None])
MONTHS = st.sampled_from(["2021-01", "2021-02", "2021-05", "2022-12", None])
ROWS = st.lists(st.tuples(SUBJECTS, AGES, PLACES, MONTHS), max_size=40)
VALUES = st.sampled_from([1.0, 2.0, 3.0, None])


def _sorted(tbl: pa.Table) -> pa.Table:
    return tbl.sort_by([(name, "ascending") for name in tbl.column_names])


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, cuts=st.lists(st.integers(0, 40), max_size=6), data=st.data())
def test_merge_pairs_over_any_split_equals_the_whole(rows, cuts, data):
    values = data.draw(st.lists(VALUES, min_size=len(rows), max_size=len(rows)))
    tbl = table(rows, sensitive=values)
    l_target = data.draw(st.sampled_from([None, 2]))
    policy = privacy_policy(k=2, sensitive=("valeur",), l=l_target)
    hierarchy = Hierarchy(policy)
    bounds = sorted({0, len(rows), *(min(cut, len(rows)) for cut in cuts)})
    parts = [tbl.slice(start, end - start) for start, end in itertools.pairwise(bounds)]
    split = [batch_pairs(part, policy.privacy, hierarchy) for part in parts]
    split = data.draw(st.permutations(split))  # a combine merges in any order
    whole_pairs, whole_sensitive = batch_pairs(tbl, policy.privacy, hierarchy)

    # Merged in any grouping (here: halves merged first, then together).
    half = len(split) // 2
    pairs = merge_pairs(
        [merge_pairs([p for p, _ in split[:half]]), merge_pairs([p for p, _ in split[half:]])]
    )
    sensitive = merge_sensitive([s for _, s in reversed(split)])
    assert _sorted(pairs).equals(_sorted(merge_pairs([whole_pairs])))
    assert _sorted(sensitive).equals(_sorted(merge_sensitive([whole_sensitive])))
    assert (pa.compute.sum(pairs["rows"]).as_py() or 0) == len(rows) * hierarchy.levels

    split_measures = measure_levels(pairs, sensitive, policy.privacy, hierarchy.levels)
    whole_measures = measure_levels(
        merge_pairs([whole_pairs]),
        merge_sensitive([whole_sensitive]),
        policy.privacy,
        hierarchy.levels,
    )
    assert split_measures == whole_measures


@settings(max_examples=80, deadline=None)
@given(rows=ROWS, k=st.integers(2, 4))
def test_measures_agree_with_a_plain_python_count(rows, k):
    tbl = table(rows)
    level0 = measure(tbl, k=k)[0]
    classes: dict[tuple, set] = {}
    row_counts: dict[tuple, int] = {}
    for subject, *qis in rows:
        people = classes.setdefault(tuple(qis), set())
        if subject is not None:
            people.add(subject)
        row_counts[tuple(qis)] = row_counts.get(tuple(qis), 0) + 1
    sizes = {qis: len(people) for qis, people in classes.items()}
    kept = {qis: size for qis, size in sizes.items() if size >= k}
    failing = {qis for qis, size in sizes.items() if size < k}
    assert level0.classes == len(sizes)
    assert level0.k_after == min(kept.values(), default=0)
    assert level0.failing_rows == sum(row_counts[qis] for qis in failing)
    kept_rows = sum(row_counts[qis] for qis in kept)
    risk = sum(row_counts[qis] / size for qis, size in kept.items()) / kept_rows if kept_rows else 0
    assert level0.average_risk_after == pytest.approx(risk)
    assert len(level0.failing_classes) == len(failing)
