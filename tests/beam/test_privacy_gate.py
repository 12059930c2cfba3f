"""The privacy gate's Beam layer: measures independent of batching, enforcement with provenance."""

from __future__ import annotations

import pickle
import random

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tests.unit.privacy.policies import privacy_policy
from transforms.beam import REJECTED, SOURCE_FILE, SOURCE_ROW, STATS
from transforms.policy_applier import output_schema
from transforms.privacy import beam as privacy_beam
from transforms.privacy.beam import K_ANONYMITY, EnforcePrivacy, MeasureClasses
from transforms.privacy.hierarchy import Hierarchy
from transforms.privacy.measure import SEPARATOR, batch_pairs, measure_levels, merge_pairs

POLICY = privacy_policy(k=3, sensitive=("valeur",), l=2)
SCHEMA = output_schema(POLICY)


def staged(rows: list[tuple], source: str = "export.csv", first_row: int = 1) -> pa.Table:
    """Published rows (patient, classe_age, departement, mois, valeur) with provenance."""
    count = len(rows)
    patients, ages, places, months, values = (list(c) for c in zip(*rows, strict=True))
    return pa.table(
        {
            "patient_token": pa.array(patients, pa.string()),
            "nir_token": pa.nulls(count, pa.string()),
            "classe_age": pa.array(ages, pa.string()),
            "departement": pa.array(places, pa.string()),
            "mois": pa.array(months, pa.string()),
            "nir_invalide": pa.array([False] * count),
            "valeur": pa.array(values, pa.float64()),
            SOURCE_FILE: pa.array([source] * count, pa.string()),
            SOURCE_ROW: pa.array(range(first_row, first_row + count), pa.int64()),
        }
    )


def random_rows(count: int, seed: int = 3) -> list[tuple]:
    chance = random.Random(seed)
    return [
        (
            chance.choice([f"p{i}" for i in range(40)] + [None]),
            chance.choice(["30-34", "35-39", "40-44", "80-84", "90+", None]),
            chance.choice(["56", "29", "35", "2A", "971", None]),
            chance.choice(["2021-01", "2021-02", "2021-05", "2021-11", None]),
            chance.choice([1.0, 2.0, 3.0, None]),
        )
        for _ in range(count)
    ]


def direct_measures(table: pa.Table):
    targets = POLICY.privacy
    pairs = merge_pairs([batch_pairs(table, targets)], targets)
    return measure_levels(pairs, targets, Hierarchy(POLICY))


def slices(table: pa.Table, size: int) -> list[pa.Table]:
    return [table.slice(start, size) for start in range(0, table.num_rows, size)]


ROWS = random_rows(300)
WHOLE = staged(ROWS)
EXPECTED = direct_measures(WHOLE)


def test_the_fixture_has_failing_and_passing_classes_at_some_levels():
    assert EXPECTED[0].failing_classes and EXPECTED[0].failing_subjects
    assert any(m.k_after >= 3 for m in EXPECTED)
    assert any(m.l_after.get("valeur", 0) >= 2 for m in EXPECTED)


@pytest.mark.parametrize("size", [300, 50, 16])
def test_measure_classes_gives_the_same_answer_for_any_batching(pipeline, size):
    tables = slices(WHOLE, size)
    random.Random(size).shuffle(tables)
    with pipeline:
        measures = pipeline | beam.Create(tables, reshuffle=False) | MeasureClasses(POLICY)
        assert_that(measures, equal_to([EXPECTED]))


def test_combine_merges_accumulators_in_any_grouping(monkeypatch):
    pairs_fn = pickle.loads(pickle.dumps(privacy_beam._ClassPairsFn(POLICY)))
    fn = privacy_beam._ClassPairsCombineFn(POLICY)
    fn = pickle.loads(pickle.dumps(fn))  # as a worker gets it
    parts = [element for part in slices(WHOLE, 13) for element in pairs_fn.process(part)]
    assert len(parts) == len(slices(WHOLE, 13))
    # Merge often, as a long bundle would.
    monkeypatch.setattr(privacy_beam, "_COMPACT_PAIRS", 50)
    for grouping in ([1], [3, 5, 2], [len(parts)], [7, 7]):
        accumulators, start = [], 0
        while start < len(parts):
            for step in grouping:
                accumulator = fn.create_accumulator()
                for part in parts[start : start + step]:
                    accumulator = fn.add_input(accumulator, part)
                # Accumulators travel pickled between the phases of a lifted combine.
                accumulators.append(pickle.loads(pickle.dumps(fn.compact(accumulator))))
                start += step
        random.Random(len(accumulators)).shuffle(accumulators)
        half = len(accumulators) // 2
        merged = fn.merge_accumulators(
            [
                fn.merge_accumulators(accumulators[:half]),
                fn.merge_accumulators(accumulators[half:]),
            ]
        )
        assert fn.extract_output(merged) == EXPECTED, grouping


def test_an_accumulator_stays_compact(monkeypatch):
    """Many batches of the same people: the accumulator holds each pair once."""
    monkeypatch.setattr(privacy_beam, "_COMPACT_PAIRS", 100)
    pairs_fn = privacy_beam._ClassPairsFn(POLICY)
    fn = privacy_beam._ClassPairsCombineFn(POLICY)
    whole = merge_pairs([batch_pairs(WHOLE, POLICY.privacy)], POLICY.privacy)
    accumulator = fn.create_accumulator()
    for _ in range(20):
        for part in slices(WHOLE, 50):
            for element in pairs_fn.process(part):
                accumulator = fn.add_input(accumulator, element)
        assert sum(part.size for part in accumulator) <= 2 * max(100, whole.size) + 50
    merged = fn.merge_accumulators([accumulator])
    assert len(merged) == 1 and merged[0].size == whole.size
    assert merged[0].rows == 20 * WHOLE.num_rows
    assert len(merged[0].subjects) == len(whole.subjects)


def test_measure_classes_on_no_data(pipeline):
    empty = staged([("p", "30-34", "56", "2021-01", 1.0)]).slice(0, 0)
    expected = direct_measures(empty)
    assert expected[0].subjects == 0
    with pipeline:
        measures = pipeline | beam.Create([empty]) | MeasureClasses(POLICY)
        assert_that(measures, equal_to([expected]))


def test_transforms_need_privacy_targets():
    from tests.unit.policies import small_policy

    with pytest.raises(ValueError):
        MeasureClasses(small_policy())
    with pytest.raises(ValueError):
        EnforcePrivacy(small_policy(), 0, frozenset(), SCHEMA)


# --- enforcement -----------------------------------------------------------------------


def key(*qis: str) -> str:
    return SEPARATOR.join(qis)


def test_enforce_routes_suppressed_classes_to_rejected_with_provenance(pipeline):
    a_csv = staged(
        [
            ("p1", "35-39", "56", "2021-01", 1.0),  # level 2: 30-39, 56, 2021-Q1 (kept)
            ("p2", "30-34", "56", "2021-03", 2.0),  # same class at level 2
            ("p3", "80-84", "2A", "2021-11", 1.0),  # 80-89, 2A, 2021-Q4: suppressed
            ("p3", "85-89", "2A", "2021-12", 2.0),  # same suppressed class
        ],
        "a.csv",
        first_row=2,
    )
    b_csv = staged(
        [
            ("p4", "80-84", "2A", "2021-10", 3.0),  # suppressed class, other file
            ("p5", "90+", None, None, 1.0),  # 90+, null, null: suppressed
            ("p6", "35-39", "56", "2021-02", 3.0),  # kept class
        ],
        "b.csv",
        first_row=10,
    )
    suppressed = frozenset(
        {key("80-89", "2A", "2021-Q4"), key("90+", "\x00", "\x00"), key("nowhere")}
    )
    with pipeline:
        enforced = (
            pipeline
            | beam.Create([a_csv, b_csv], reshuffle=False)
            | EnforcePrivacy(POLICY, 2, suppressed, SCHEMA)
        )
        schemas = enforced.data | "schemas" >> beam.Map(lambda t: t.schema)
        published = enforced.data | "published" >> beam.FlatMap(
            lambda t: [
                (r["patient_token"], r["classe_age"], r["departement"], r["mois"])
                for r in t.to_pylist()
            ]
        )
        rejected = enforced[REJECTED] | "rejected" >> beam.FlatMap(lambda t: t.to_pylist())
        stats = enforced[STATS] | beam.CombinePerKey(sum)
        assert_that(schemas, equal_to([SCHEMA, SCHEMA]), label="schemas")
        assert_that(
            published,
            equal_to(
                [
                    ("p1", "30-39", "56", "2021-Q1"),
                    ("p2", "30-39", "56", "2021-Q1"),
                    ("p6", "30-39", "56", "2021-Q1"),
                ]
            ),
            label="published",
        )
        expected_rejected = [
            {"source_file": "a.csv", "source_row": 4, "column": None, "reason": K_ANONYMITY},
            {"source_file": "a.csv", "source_row": 5, "column": None, "reason": K_ANONYMITY},
            {"source_file": "b.csv", "source_row": 10, "column": None, "reason": K_ANONYMITY},
            {"source_file": "b.csv", "source_row": 11, "column": None, "reason": K_ANONYMITY},
        ]
        assert_that(rejected, equal_to(expected_rejected), label="rejected")
        assert_that(stats, equal_to([(("rows_out_after_privacy",), 3)]), label="stats")


def test_enforce_the_decided_level_end_to_end(pipeline):
    """Measure, decide, enforce: the published rows meet k and the rejected are the rest."""
    from transforms.privacy.decision import decide

    decision = decide(EXPECTED, POLICY.privacy)
    tables = slices(WHOLE, 50)
    with pipeline:
        enforced = (
            pipeline
            | beam.Create(tables, reshuffle=False)
            | EnforcePrivacy(POLICY, decision.level, decision.suppressed_classes, SCHEMA)
        )
        counts = (
            (
                enforced.data | "out" >> beam.Map(lambda t: ("out", t.num_rows)),
                enforced[REJECTED] | "rej" >> beam.Map(lambda t: ("rejected", t.num_rows)),
            )
            | beam.Flatten()
            | beam.CombinePerKey(sum)
        )
        rejected_rows = decision.measure.failing_rows
        assert_that(
            counts,
            equal_to([("out", len(ROWS) - rejected_rows), ("rejected", rejected_rows)]),
        )


@pytest.mark.parametrize("level", range(Hierarchy(POLICY).levels))
def test_enforce_matches_generalising_and_keying_every_row(level):
    """Enforcement climbs distinct values only: the same rows as climbing every row."""
    from apache_beam.pvalue import TaggedOutput

    from transforms.privacy.measure import class_keys

    suppressed = frozenset(EXPECTED[level].failing_classes)
    fn = privacy_beam._EnforceFn(POLICY, level, suppressed, SCHEMA)
    fn.setup()
    chunked = pa.concat_tables(slices(WHOLE, 70))  # several chunks
    outputs = list(fn.process(chunked))
    published = [out for out in outputs if not isinstance(out, TaggedOutput)]
    rejected = [o.value for o in outputs if isinstance(o, TaggedOutput) and o.tag == REJECTED]
    generalised = Hierarchy(POLICY).generalise(WHOLE, level)
    keys = class_keys(generalised, POLICY.privacy.quasi_identifiers).to_pylist()
    dropped = pa.array([key_ in suppressed for key_ in keys])
    expected = generalised.filter(pa.compute.invert(dropped))
    expected = expected.drop_columns([SOURCE_FILE, SOURCE_ROW]).cast(SCHEMA)
    assert pa.concat_tables(published).equals(expected) if published else not expected.num_rows
    rejected_rows = [row for table in rejected for row in table.column("source_row").to_pylist()]
    assert rejected_rows == generalised.filter(dropped).column(SOURCE_ROW).to_pylist()
