"""Class measures counted in distinct subjects, merged from any batching."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.privacy.policies import QIS, privacy_policy, table
from transforms.privacy.hierarchy import Hierarchy
from transforms.privacy.measure import (
    NULL_VALUE,
    SEPARATOR,
    UNKNOWN_SUBJECT,
    LevelMeasure,
    batch_pairs,
    class_keys,
    combine_codes,
    dense_ids,
    distinct_rows,
    measure_levels,
    merge_pairs,
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
    targets = policy.privacy
    return measure_levels(
        merge_pairs([batch_pairs(tbl, targets)], targets), targets, Hierarchy(policy)
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


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=ROWS, cuts=st.lists(st.integers(0, 40), max_size=6), data=st.data())
def test_merge_pairs_over_any_split_equals_the_whole(rows, cuts, data):
    values = data.draw(st.lists(VALUES, min_size=len(rows), max_size=len(rows)))
    tbl = table(rows, sensitive=values)
    l_target = data.draw(st.sampled_from([None, 2]))
    policy = privacy_policy(k=2, sensitive=("valeur",), l=l_target)
    targets, hierarchy = policy.privacy, Hierarchy(policy)
    bounds = sorted({0, len(rows), *(min(cut, len(rows)) for cut in cuts)})
    parts = [tbl.slice(start, end - start) for start, end in itertools.pairwise(bounds)]
    split = [batch_pairs(part, targets) for part in parts]
    split = data.draw(st.permutations(split))  # a combine merges in any order
    whole = merge_pairs([batch_pairs(tbl, targets)], targets)

    # Merged in any grouping (here: halves merged first, then together).
    half = len(split) // 2
    pairs = merge_pairs(
        [merge_pairs(split[:half], targets), merge_pairs(split[half:], targets)], targets
    )
    assert pairs.to_table(QIS).equals(whole.to_table(QIS))
    assert pairs.sensitive_table(QIS).equals(whole.sensitive_table(QIS))
    assert pairs.rows == len(rows)
    merged = pairs.to_table(QIS)
    distinct = set(zip(merged["class"].to_pylist(), merged["subject"].to_pylist(), strict=True))
    assert pairs.size == len(distinct)  # no pair twice

    split_measures = measure_levels(pairs, targets, hierarchy)
    assert split_measures == measure_levels(whole, targets, hierarchy)
    # Each level as the rows climbed one by one would give it: the reference below.
    assert split_measures == reference_measures(tbl, policy)


def reference_measures(tbl: pa.Table, policy) -> list[LevelMeasure]:
    """The measures computed row by row in plain Python, every level generalising rows."""
    targets = policy.privacy
    hierarchy = Hierarchy(policy)
    subjects = [s if s is not None else "\x00unknown" for s in tbl["patient_token"].to_pylist()]
    values = tbl["valeur"].to_pylist() if "valeur" in tbl.column_names else [None] * len(subjects)
    measures = []
    for level, generalised in enumerate(hierarchy.each_level(tbl)):
        keys = class_keys(generalised, targets.quasi_identifiers).to_pylist()
        people: dict[str, set] = {}
        rows: dict[str, int] = {}
        distinct: dict[str, set] = {}
        for key_, subject, value in zip(keys, subjects, values, strict=True):
            people.setdefault(key_, set())
            if subject != "\x00unknown":
                people[key_].add(subject)
            rows[key_] = rows.get(key_, 0) + 1
            distinct.setdefault(key_, set())
            if value is not None:
                distinct[key_].add(value)
        sizes = {key_: len(members) for key_, members in people.items()}
        failing = {
            key_
            for key_, size in sizes.items()
            if size < targets.k or (targets.l and len(distinct[key_]) < targets.l)
        }
        kept = {key_: size for key_, size in sizes.items() if key_ not in failing}
        totals: dict[int, int] = {}
        for key_, size in kept.items():
            totals[size] = totals.get(size, 0) + rows[key_]
        kept_rows = sum(totals.values())
        singles = {key_ for key_, size in sizes.items() if size == 1}
        keyed = list(zip(keys, subjects, strict=True))
        measures.append(
            LevelMeasure(
                level=level,
                subjects=len(set(subjects)),
                classes=len(sizes),
                class_sizes=dict(Counter(sizes.values())),
                failing_classes=sorted(failing),
                failing_subjects=len({s for k_, s in keyed if k_ in failing}),
                failing_rows=sum(rows[key_] for key_ in failing),
                unique_subjects=len({s for k_, s in keyed if k_ in singles}),
                k_after=min(kept.values(), default=0),
                average_risk_after=sum(totals[size] / size for size in sorted(totals)) / kept_rows
                if kept_rows
                else 0.0,
                l_after={
                    attribute: min((len(distinct[key_]) for key_ in kept), default=0)
                    for attribute in (targets.sensitive if targets.l else ())
                },
                class_sizes_after=dict(Counter(kept.values())),
            )
        )
    return measures


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


# --- integer codes and compact pairs ---------------------------------------------------


def test_distinct_rows_numbers_combinations_with_null_a_value_of_its_own():
    ages = pa.array(["30-34", None, "30-34", "35-39", None, "30-34"])
    places = pa.array(["56", "56", "56", None, "56", "29"])
    ids, representative = distinct_rows([ages, places])
    assert ids.tolist()[0] == ids.tolist()[2]  # same values, same id
    assert ids.tolist()[1] == ids.tolist()[4]  # (null, 56) twice
    assert len(set(ids.tolist())) == 4
    assert sorted(set(ids.tolist())) == list(range(4))
    for number, row in enumerate(representative.tolist()):
        assert ids[row] == number
    # Chunked columns, a single column, no rows.
    chunked = pa.chunked_array([ages.slice(0, 3), ages.slice(3)])
    assert distinct_rows([chunked])[0].tolist() == distinct_rows([ages])[0].tolist()
    empty_ids, empty_rows = distinct_rows([ages.slice(0, 0), places.slice(0, 0)])
    assert empty_ids.size == 0 and empty_rows.size == 0


def test_dense_ids_count_small_code_spaces_and_sort_large_ones():
    codes = np.array([7, 3, 7, 10**9, 3, 0])
    for radix in (10**9 + 1, 2**40):  # counted (small enough) or sorted
        ids, representative = dense_ids(codes, radix)
        assert ids.tolist() == [2, 1, 2, 3, 1, 0]
        assert codes[representative].tolist() == [0, 3, 7, 10**9]
    small = np.array([4, 1, 4])
    ids, representative = dense_ids(small, 5)
    assert ids.tolist() == [1, 0, 1]
    assert small[representative].tolist() == [1, 4]
    assert [a.size for a in dense_ids(np.zeros(0, np.int64), 1)] == [0, 0]


def test_combine_codes_renumbers_before_overflowing():
    combined, radix = np.array([0, 5, 0, 2**40]), 2**40 + 1
    merged, new_radix = combine_codes(combined, radix, np.array([1, 1, 1, 0]), 2**30)
    assert new_radix < 2**63
    assert len(set(merged.tolist())) == 3  # rows 0 and 2 alike, the others apart
    assert merged[0] == merged[2]


def test_batch_pairs_is_compact_and_keeps_nulls_apart():
    tbl = table(
        rows_of(
            ("p1", A), ("p1", A), ("p1", B),  # one subject, two classes
            (None, A), (None, A),  # no subject: one unknown
            ("p2", ("35-39", None, "2021-03")),  # a null département is a value
        )
    )  # fmt: skip
    pairs = batch_pairs(tbl, privacy_policy().privacy)
    assert pairs.classes.num_rows == 3
    assert sorted(pairs.subjects.to_pylist()) == sorted(["p1", "p2", UNKNOWN_SUBJECT])
    assert pairs.pair_class.dtype == np.int32 and pairs.pair_subject.dtype == np.int32
    assert pairs.to_table(QIS).to_pylist() == [
        {"class": key(("35-39", NULL_VALUE, "2021-03")), "subject": "p2", "rows": 1},
        {"class": key(A), "subject": UNKNOWN_SUBJECT, "rows": 2},
        {"class": key(A), "subject": "p1", "rows": 2},
        {"class": key(B), "subject": "p1", "rows": 1},
    ]
    assert pairs.rows == 6


def test_one_subject_with_many_rows_across_classes():
    january = ("35-39", "56", "2021-01")  # A's quarter
    tbl = table(rows_of(*[("p1", A)] * 50, *[("p1", january)] * 30, *[("p1", C)] * 20))
    levels = measure(tbl, k=2)
    level0 = levels[0]
    assert (level0.subjects, level0.classes, level0.failing_rows) == (1, 3, 100)
    assert level0.class_sizes == {1: 3}
    assert level0.unique_subjects == 1 and level0.failing_subjects == 1
    # At level 1 (quarters) A and January are one class, with p1 counted once.
    assert levels[1].classes == 2 and levels[1].class_sizes == {1: 2}
    assert levels[1].failing_classes == [
        key(("35-39", "56", "2021-Q1")),
        key(("80-84", "2A", "2021-Q4")),
    ]
    assert levels[1].failing_rows == 100


def test_a_single_class_passes_or_fails_whole():
    tbl = table(rows_of(("p1", A), ("p2", A), ("p3", A), ("p3", A)))
    passing = measure(tbl, k=3)
    assert all(m.classes == 1 and m.class_sizes == {3: 1} for m in passing)
    assert passing[0].k_after == 3 and passing[0].failing_classes == []
    assert passing[0].average_risk_after == pytest.approx(1 / 3)
    failing = measure(tbl, k=4)[0]
    assert failing.failing_classes == [key(A)] and failing.k_after == 0
    assert (failing.failing_subjects, failing.failing_rows) == (3, 4)


def test_null_quasi_identifiers_everywhere():
    tbl = table([("p1", None, None, None), ("p2", None, None, None), (None, None, None, None)])
    levels = measure(tbl, k=2)
    assert levels[0].failing_classes == []
    assert levels[0].class_sizes == {2: 1}
    assert levels[0].subjects == 3  # p1, p2 and one unknown
    assert all(m.classes == 1 for m in levels)


def test_merge_pairs_of_nothing_and_of_empty_batches():
    targets = privacy_policy(sensitive=("valeur",), l=2).privacy
    empty = batch_pairs(table([], sensitive=[]), targets)
    for merged in (merge_pairs([], targets), merge_pairs([empty, empty], targets)):
        assert merged.size == 0 and merged.classes.column_names == list(QIS)
        assert merged.sensitive["valeur"].values.to_pylist() == []


def test_measures_are_plain_python_for_json():
    import json
    from dataclasses import asdict

    tbl = table(rows_of(("p1", A), ("p2", A), ("p3", B)), sensitive=[1.0, 2.0, None])
    for level in measure(tbl, k=2, sensitive=("valeur",), l=2):
        json.dumps(asdict(level))  # no numpy scalars
        assert all(type(size) is int for size in level.class_sizes)


def test_merge_pairs_joins_text_with_64_bit_offsets_and_gives_string_back():
    """Subjects repeated over many parts can pass 2 GiB end to end: they are joined as
    large_string (here: parts of either width), and the distinct values fit in string."""
    rows = [("p1", "30-34", "56", "2021-01"), ("p2", "35-39", "29", "2021-02")]
    policy = privacy_policy(k=2, sensitive=("valeur",))
    targets = policy.privacy
    narrow = batch_pairs(table(rows, sensitive=[1.0, 2.0]), targets)
    wide = batch_pairs(table(rows, sensitive=[1.0, 3.0]), targets)
    wide.subjects = wide.subjects.cast(pa.large_string())
    for values in wide.sensitive.values():
        values.values = values.values.cast(pa.large_string())
    merged = merge_pairs([narrow, wide], targets)
    assert merged.subjects.type == pa.string()
    assert sorted(merged.subjects.to_pylist()) == sorted(narrow.subjects.to_pylist())
    assert merged.size == narrow.size
    assert merged.rows == 4
    assert all(v.values.type == pa.string() for v in merged.sensitive.values())
