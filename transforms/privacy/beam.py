"""Beam layer of the privacy gate: a combine measuring classes, a DoFn enforcing a decision.

Published tables carry two provenance columns between the passes (`PROVENANCE`) so
that suppressed rows reach rejected/ with their source file and record number.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.pvalue import TaggedOutput

from schemas.model import Policy
from transforms.beam import (
    REJECTED,
    SOURCE_FILE,
    SOURCE_ROW,
    STATS,
    ArrowCoder,
    redacted_errors,
    register_arrow_coder,
)
from transforms.privacy.hierarchy import Hierarchy
from transforms.privacy.measure import (
    ClassPairs,
    LevelMeasure,
    batch_pairs,
    class_keys,
    combine_codes,
    dense_ids,
    dictionary_codes,
    measure_levels,
    merge_pairs,
)
from transforms.rejected import rejected_table

PROVENANCE = (SOURCE_FILE, SOURCE_ROW)
K_ANONYMITY = "k-anonymity"
_COMPACT_PAIRS = 250_000

register_arrow_coder(ClassPairs)


class _ClassPairsFn(beam.DoFn):
    """A published table -> its distinct level-0 classes, subjects and pairs (ClassPairs)."""

    def __init__(self, policy: Policy):
        self._targets = policy.privacy

    def process(self, table: pa.Table):
        with redacted_errors("privacy classes"):
            pairs = batch_pairs(table, self._targets)
        if pairs.size:
            yield pairs


class _ClassPairsCombineFn(beam.CombineFn):
    """Unites ClassPairs into one and measures every level from it.

    The accumulator is a list of ClassPairs, merged into one whenever the pairs waiting
    behind the first exceed both `_COMPACT_PAIRS` and the first (so merging costs time
    in proportion to the input). Its size is that of the distinct level-0 pairs, held
    as integer arrays, plus one copy of each distinct class, subject and value.
    """

    def __init__(self, policy: Policy):
        self._policy = policy

    def create_accumulator(self) -> list[ClassPairs]:
        return []

    def get_accumulator_coder(self) -> ArrowCoder:
        return ArrowCoder()  # sizes the accumulator from its arrays, without pickling it

    def add_input(self, accumulator: list[ClassPairs], element: ClassPairs):
        accumulator.append(element)
        waiting = sum(part.size for part in accumulator[1:])
        if waiting > max(_COMPACT_PAIRS, accumulator[0].size):
            accumulator[:] = [self._merge(accumulator)]
        return accumulator

    def merge_accumulators(self, accumulators):
        return [self._merge([part for accumulator in accumulators for part in accumulator])]

    def compact(self, accumulator: list[ClassPairs]) -> list[ClassPairs]:
        return [self._merge(accumulator)] if len(accumulator) > 1 else accumulator

    def extract_output(self, accumulator: list[ClassPairs]) -> list[LevelMeasure]:
        with redacted_errors("privacy measures"):
            return measure_levels(
                self._merge(accumulator), self._policy.privacy, Hierarchy(self._policy)
            )

    def _merge(self, parts: list[ClassPairs]) -> ClassPairs:
        with redacted_errors("privacy classes"):
            return merge_pairs(parts, self._policy.privacy)


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
            | "Class pairs" >> beam.ParDo(_ClassPairsFn(self._policy)).with_output_types(ClassPairs)
            | "Count distinct subjects per class"
            >> beam.CombineGlobally(_ClassPairsCombineFn(self._policy))
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
            generalised, suppressed = self._generalise(table)
            kept = generalised.filter(pc.invert(suppressed))
            dropped = generalised.filter(suppressed)
            published = kept.drop_columns(list(PROVENANCE)).cast(self._schema)
        if published.num_rows:
            yield published
        if dropped.num_rows:
            yield TaggedOutput(REJECTED, _provenance_rejected(dropped))
        yield TaggedOutput(STATS, (("rows_out_after_privacy",), published.num_rows))

    def _generalise(self, table: pa.Table) -> tuple[pa.Table, pa.Array]:
        """The table at the level, and which rows are in a suppressed class.

        Each quasi-identifier is dictionary encoded; the hierarchy climbs its distinct
        values only, the codes of the generalised values combine into a class per row,
        and keys are built for the distinct classes only, then spread back to the rows.
        """
        assert self._hierarchy is not None
        names = self._policy.privacy.quasi_identifiers
        combined, radix = np.zeros(table.num_rows, np.int64), 1
        for name in names:
            index = table.schema.get_field_index(name)
            encoded = pc.dictionary_encode(
                table.column(index).combine_chunks(), null_encoding="encode"
            )
            values = self._hierarchy.generalise_column(name, encoded.dictionary, self._level)
            table = table.set_column(index, table.schema.field(index), values.take(encoded.indices))
            distinct = pc.dictionary_encode(values, null_encoding="encode")
            codes = dictionary_codes(distinct)[dictionary_codes(encoded)]
            combined, radix = combine_codes(combined, radix, codes, len(distinct.dictionary))
        class_of_row, representative = dense_ids(combined, radix)
        keys = class_keys(table.select(list(names)).take(pa.array(representative)), names)
        suppressed = pc.is_in(keys, value_set=self._suppressed).take(pa.array(class_of_row))
        return table, suppressed


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
        return tables | "Enforce privacy" >> beam.ParDo(self._fn).with_output_types(
            pa.Table, **{REJECTED: pa.Table, STATS: Any}
        ).with_outputs(REJECTED, STATS, main="data")
