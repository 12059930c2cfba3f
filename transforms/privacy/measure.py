"""Equivalence classes of quasi-identifiers, counted in distinct subjects (people).

Per batch, `batch_pairs` reduces published rows to distinct (level, class, subject)
pairs with their row counts, and distinct (level, class, attribute, value) for the
sensitive attributes. Pairs from any batching merge with `merge_pairs`, so the
measures do not depend on batch boundaries. `measure_levels` turns the merged pairs
into k, l, class sizes and the classes that miss the targets, per level.

Rows without a subject may belong to anyone, a subject of their class included: they
never count towards a class's size (a class of them alone has 0 subjects and fails).
In the totals and shares of subjects they count as one unknown subject. Likewise a
null sensitive value is no value for l-diversity.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import PrivacyTargets
from transforms.privacy.hierarchy import Hierarchy

SEPARATOR = "\x1f"
NULL_VALUE = "\x00"  # a null quasi-identifier is a value of its own
UNKNOWN_SUBJECT = "\x00unknown"  # rows without a subject: nobody in a class, one in totals

PAIRS_SCHEMA = pa.schema(
    [("level", pa.int16()), ("class", pa.string()), ("subject", pa.string()), ("rows", pa.int64())]
)
SENSITIVE_SCHEMA = pa.schema(
    [
        ("level", pa.int16()),
        ("class", pa.string()),
        ("attribute", pa.string()),
        ("value", pa.string()),
    ]
)


def class_keys(table: pa.Table, quasi_identifiers: tuple[str, ...]) -> pa.Array:
    columns = [
        pc.fill_null(table.column(name).combine_chunks().cast(pa.string()), NULL_VALUE)
        for name in quasi_identifiers
    ]
    if len(columns) == 1:
        return columns[0]
    return pc.binary_join_element_wise(*columns, SEPARATOR)


def subject_keys(table: pa.Table, subject: str) -> pa.Array:
    return pc.fill_null(table.column(subject).combine_chunks().cast(pa.string()), UNKNOWN_SUBJECT)


def batch_pairs(
    table: pa.Table, targets: PrivacyTargets, hierarchy: Hierarchy
) -> tuple[pa.Table, pa.Table]:
    """Distinct (level, class, subject, rows) and (level, class, attribute, value)."""
    subjects = subject_keys(table, targets.subject)
    pairs, sensitive = [], []
    for level, generalised in enumerate(hierarchy.each_level(table)):
        keys = class_keys(generalised, targets.quasi_identifiers)
        level_column = pa.repeat(pa.scalar(level, pa.int16()), len(keys))
        grouped = (
            pa.table({"level": level_column, "class": keys, "subject": subjects})
            .group_by(["level", "class", "subject"])
            .aggregate([([], "count_all")])
            .rename_columns(["level", "class", "subject", "rows"])
        )
        pairs.append(grouped.select(PAIRS_SCHEMA.names).cast(PAIRS_SCHEMA))
        for attribute in targets.sensitive if targets.l else ():
            values = table.column(attribute).combine_chunks().cast(pa.string())
            distinct = (
                pa.table({"level": level_column, "class": keys, "value": values})
                .filter(pc.is_valid(values))
                .group_by(["level", "class", "value"])
                .aggregate([])
            )
            names = pa.repeat(pa.scalar(attribute), distinct.num_rows).cast(pa.string())
            sensitive.append(
                pa.table(
                    [distinct["level"], distinct["class"], names, distinct["value"]],
                    schema=SENSITIVE_SCHEMA,
                )
            )
    return _concat(pairs, PAIRS_SCHEMA), _concat(sensitive, SENSITIVE_SCHEMA)


def _concat(tables: list[pa.Table], schema: pa.Schema) -> pa.Table:
    return pa.concat_tables(tables) if tables else schema.empty_table()


def merge_pairs(tables: list[pa.Table]) -> pa.Table:
    """Union of pair tables, rows summed per (level, class, subject)."""
    merged = _concat(tables, PAIRS_SCHEMA)
    grouped = merged.group_by(["level", "class", "subject"]).aggregate([("rows", "sum")])
    return (
        grouped.rename_columns(["level", "class", "subject", "rows"])
        .select(PAIRS_SCHEMA.names)
        .cast(PAIRS_SCHEMA)
    )


def merge_sensitive(tables: list[pa.Table]) -> pa.Table:
    merged = _concat(tables, SENSITIVE_SCHEMA)
    return merged.group_by(SENSITIVE_SCHEMA.names).aggregate([]).cast(SENSITIVE_SCHEMA)


@dataclass
class LevelMeasure:
    """The classes at one level of generalisation, before any suppression."""

    level: int
    subjects: int  # distinct subjects in the data
    classes: int
    class_sizes: dict[int, int]  # class size in subjects -> number of classes
    failing_classes: list[str]  # under k, or under l for some sensitive attribute
    failing_subjects: int  # distinct subjects with a row in a failing class
    failing_rows: int
    unique_subjects: int  # subjects with a row in a class of size 1
    k_after: int  # smallest class once failing classes are suppressed (0: none left)
    average_risk_after: float  # mean over remaining rows of 1 / class size
    l_after: dict[str, int] = field(default_factory=dict)
    class_sizes_after: dict[int, int] = field(default_factory=dict)


def _counts(array: pa.Array) -> dict[int, int]:
    return {
        int(entry["values"]): int(entry["counts"]) for entry in pc.value_counts(array).to_pylist()
    }


def _risk_sum(kept_sizes: pa.Table) -> float:
    """Sum over kept classes of rows / subjects, in an order independent of batching."""
    by_size = kept_sizes.group_by("subject_count").aggregate([("rows_sum", "sum")])
    totals = dict(
        zip(by_size["subject_count"].to_pylist(), by_size["rows_sum_sum"].to_pylist(), strict=True)
    )
    return sum(totals[size] / size for size in sorted(totals))


def measure_levels(
    pairs: pa.Table, sensitive: pa.Table, targets: PrivacyTargets, levels: int | Iterable[int]
) -> list[LevelMeasure]:
    """Measures of the given levels (all of `range(levels)` for an int)."""
    measures = []
    for level in range(levels) if isinstance(levels, int) else levels:
        at = pairs.filter(pc.equal(pairs["level"], level))
        known = pc.not_equal(at["subject"], UNKNOWN_SUBJECT).cast(pa.int64())
        # Sorted by class: the same order (and the same sums) whatever the batching.
        grouped = (
            pa.table({"class": at["class"], "known": known, "rows": at["rows"]})
            .group_by("class")
            .aggregate([("known", "sum"), ("rows", "sum")])
            .sort_by("class")
        )
        sizes = pa.table(
            {
                "class": grouped["class"],
                "subject_count": grouped["known_sum"],
                "rows_sum": grouped["rows_sum"],
            }
        )
        failing = pc.less(sizes["subject_count"], targets.k)
        l_by_attribute: dict[str, pa.Table] = {}
        if targets.l:
            sens = sensitive.filter(pc.equal(sensitive["level"], level))
            for attribute in targets.sensitive:
                per_class = (
                    sens.filter(pc.equal(sens["attribute"], attribute))
                    .group_by("class")
                    .aggregate([("value", "count")])
                )
                joined = sizes.select(["class"]).join(per_class, "class", join_type="left outer")
                joined = joined.sort_by("class")
                l_by_attribute[attribute] = joined
                failing = pc.or_(
                    failing, pc.less(pc.fill_null(joined["value_count"], 0), targets.l)
                )
        failing_keys = sizes.filter(failing)["class"]
        in_failing = pc.is_in(at["class"], value_set=failing_keys)
        kept_sizes = sizes.filter(pc.invert(failing))
        kept_rows = pc.sum(kept_sizes["rows_sum"]).as_py() or 0
        singles = sizes.filter(pc.equal(sizes["subject_count"], 1))["class"]
        l_after = {}
        for attribute, joined in l_by_attribute.items():
            kept = pc.fill_null(joined.filter(pc.invert(failing))["value_count"], 0)
            l_after[attribute] = int(pc.min(kept).as_py() or 0)
        measures.append(
            LevelMeasure(
                level=level,
                subjects=len(pc.unique(at["subject"])),
                classes=sizes.num_rows,
                class_sizes=_counts(sizes["subject_count"]),
                failing_classes=failing_keys.to_pylist(),
                failing_subjects=len(pc.unique(at.filter(in_failing)["subject"])),
                failing_rows=int(pc.sum(at.filter(in_failing)["rows"]).as_py() or 0),
                unique_subjects=len(
                    pc.unique(at.filter(pc.is_in(at["class"], value_set=singles))["subject"])
                ),
                k_after=int(pc.min(kept_sizes["subject_count"]).as_py() or 0),
                average_risk_after=_risk_sum(kept_sizes) / kept_rows if kept_rows else 0.0,
                l_after=l_after,
                class_sizes_after=_counts(kept_sizes["subject_count"]),
            )
        )
    return measures
