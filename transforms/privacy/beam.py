"""Beam layer of the privacy gate: a combine measuring classes, a DoFn enforcing a decision.

Published tables carry two provenance columns between the passes (`PROVENANCE`) so
that suppressed rows reach rejected/ with their source file and record number.
"""

from __future__ import annotations

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.pvalue import TaggedOutput

from schemas.model import Policy
from transforms.beam import REJECTED, SOURCE_FILE, SOURCE_ROW, STATS, redacted_errors
from transforms.privacy.hierarchy import Hierarchy
from transforms.privacy.measure import (
    LevelMeasure,
    batch_pairs,
    class_keys,
    measure_levels,
    merge_pairs,
    merge_sensitive,
)
from transforms.rejected import rejected_table

PROVENANCE = (SOURCE_FILE, SOURCE_ROW)
K_ANONYMITY = "k-anonymity"
_COMPACT_ROWS = 1_000_000


class _LevelPairsFn(beam.DoFn):
    """A published table -> (level, (level, distinct pairs, sensitive values)) per level."""

    def __init__(self, policy: Policy):
        self._policy = policy
        self._hierarchy: Hierarchy | None = None

    def setup(self) -> None:
        self._hierarchy = Hierarchy(self._policy)

    def process(self, table: pa.Table):
        assert self._hierarchy is not None
        with redacted_errors("privacy classes"):
            pairs, sensitive = batch_pairs(table, self._policy.privacy, self._hierarchy)
            for level in range(self._hierarchy.levels):
                yield (
                    level,
                    (
                        level,
                        pairs.filter(pc.equal(pairs["level"], level)),
                        sensitive.filter(pc.equal(sensitive["level"], level)),
                    ),
                )

    def __getstate__(self):
        return {"_policy": self._policy, "_hierarchy": None}


class _ClassPairsCombineFn(beam.CombineFn):
    """Per level: accumulates distinct (class, subject) pairs, extracts the level's measure.

    Keyed by level, so no element or accumulator holds every level at once.
    """

    def __init__(self, policy: Policy):
        self._policy = policy

    def create_accumulator(self):
        return (None, [], [], 0)

    def add_input(self, accumulator, element):
        _, pairs, sensitive, rows = accumulator
        element_level, batch, batch_sensitive = element
        pairs.append(batch)
        sensitive.append(batch_sensitive)
        rows += batch.num_rows
        if rows > _COMPACT_ROWS:
            pairs[:] = [merge_pairs(pairs)]
            sensitive[:] = [merge_sensitive(sensitive)]
            rows = pairs[0].num_rows
        return element_level, pairs, sensitive, rows

    def merge_accumulators(self, accumulators):
        level, pairs, sensitive = None, [], []
        for part_level, part_pairs, part_sensitive, _ in accumulators:
            level = part_level if part_level is not None else level
            pairs.extend(part_pairs)
            sensitive.extend(part_sensitive)
        merged = merge_pairs(pairs)
        return level, [merged], [merge_sensitive(sensitive)], merged.num_rows

    def extract_output(self, accumulator) -> LevelMeasure | None:
        level, pairs, sensitive, _ = accumulator
        if level is None:
            return None
        with redacted_errors("privacy measures"):
            return measure_levels(
                merge_pairs(pairs), merge_sensitive(sensitive), self._policy.privacy, [level]
            )[0]


def _ordered_measures(found: list, policy: Policy) -> list[LevelMeasure]:
    """Measures of every level in order; levels without data (no rows) measured empty."""
    by_level = {measure.level: measure for _, measure in found if measure is not None}
    levels = Hierarchy(policy).levels
    missing = [level for level in range(levels) if level not in by_level]
    if missing:
        empty = measure_levels(merge_pairs([]), merge_sensitive([]), policy.privacy, missing)
        by_level.update({measure.level: measure for measure in empty})
    return [by_level[level] for level in range(levels)]


class MeasureClasses(beam.PTransform):
    """Published tables -> one list of LevelMeasure, whatever the batching or workers."""

    def __init__(self, policy: Policy):
        super().__init__()
        if policy.privacy is None:
            raise ValueError("the policy declares no privacy targets")
        self._policy = policy

    def expand(self, tables):
        return (
            tables
            | "Pairs per level" >> beam.ParDo(_LevelPairsFn(self._policy))
            | "Count distinct subjects per class"
            >> beam.CombinePerKey(_ClassPairsCombineFn(self._policy))
            | "Gather levels" >> beam.combiners.ToList()
            | "Order levels" >> beam.Map(_ordered_measures, self._policy)
        )


class _EnforceFn(beam.DoFn):
    def __init__(self, policy: Policy, level: int, suppressed: frozenset[str], schema: pa.Schema):
        self._policy = policy
        self._level = level
        self._suppressed = pa.array(sorted(suppressed), pa.string())
        self._schema = schema
        self._hierarchy: Hierarchy | None = None

    def setup(self) -> None:
        self._hierarchy = Hierarchy(self._policy)

    def process(self, table: pa.Table):
        assert self._hierarchy is not None
        with redacted_errors("privacy enforcement"):
            generalised = self._hierarchy.generalise(table, self._level)
            keys = class_keys(generalised, self._policy.privacy.quasi_identifiers)
            suppressed = pc.is_in(keys, value_set=self._suppressed)
            kept = generalised.filter(pc.invert(suppressed))
            dropped = generalised.filter(suppressed)
            published = kept.drop_columns(list(PROVENANCE)).cast(self._schema)
        if published.num_rows:
            yield published
        if dropped.num_rows:
            yield TaggedOutput(REJECTED, _provenance_rejected(dropped))
        yield TaggedOutput(STATS, (("rows_out_after_privacy",), published.num_rows))


def _provenance_rejected(dropped: pa.Table) -> pa.Table:
    files = dropped.column(SOURCE_FILE).combine_chunks()
    rows = dropped.column(SOURCE_ROW).combine_chunks()
    tables = []
    for source in pc.unique(files).to_pylist():
        mine = pc.equal(files, source)
        numbers = pc.filter(rows, mine)
        tables.append(
            rejected_table(
                source,
                numbers,
                pa.nulls(len(numbers), pa.string()),
                pa.repeat(pa.scalar(K_ANONYMITY), len(numbers)).cast(pa.string()),
            )
        )
    return pa.concat_tables(tables)


class EnforcePrivacy(beam.PTransform):
    """Staged tables -> published tables at the chosen level, suppressed rows rejected."""

    def __init__(self, policy: Policy, level: int, suppressed: frozenset[str], schema: pa.Schema):
        super().__init__()
        if policy.privacy is None:
            raise ValueError("the policy declares no privacy targets")
        self._fn = _EnforceFn(policy, level, suppressed, schema)

    def expand(self, tables):
        return tables | "Enforce privacy" >> beam.ParDo(self._fn).with_outputs(
            REJECTED, STATS, main="data"
        )
