"""Equivalence classes of quasi-identifiers, counted in distinct subjects (people).

Generalisation works value by value, so a class at any level is a function of its
class as published (level 0): it is enough to gather the distinct level-0 classes,
subjects and (class, subject) pairs once, and to climb the hierarchy on the distinct
classes alone when measuring.

Per batch, `batch_pairs` reduces published rows to `ClassPairs`: the batch's distinct
classes (one string column per quasi-identifier), its distinct subjects, and the
distinct (class, subject) pairs as integer indices into those two, with their row
counts; likewise the distinct (class, value) of each sensitive attribute. Values are
dictionary encoded and combined with numpy, never turned into Python objects per row.
`merge_pairs` unites any number of them into one with shared dictionaries and no
repeated pair, so the measures do not depend on batch boundaries. `measure_levels`
turns the merged pairs into k, l, class sizes and the classes that miss the targets,
per level.

Classes are told apart by `class_keys` (the key enforcement matches), subjects by
their text. Rows without a subject may belong to anyone, a subject of their class
included: they never count towards a class's size (a class of them alone has 0
subjects and fails). In the totals and shares of subjects they count as one unknown
subject. Likewise a null sensitive value is no value for l-diversity.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import PrivacyTargets
from transforms.privacy.hierarchy import Hierarchy

SEPARATOR = "\x1f"
NULL_VALUE = "\x00"  # a null quasi-identifier is a value of its own
UNKNOWN_SUBJECT = "\x00unknown"  # rows without a subject: nobody in a class, one in totals

_INDEX = np.int32  # stored indices into a part's classes, subjects or values
_CODE_LIMIT = 2**62  # mixed-radix codes stay below this (int64)


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


# --- integer codes ----------------------------------------------------------------------


def dictionary_codes(encoded: pa.DictionaryArray) -> np.ndarray:
    return encoded.indices.to_numpy(zero_copy_only=False).astype(np.int64, copy=False)


def distinct_rows(columns: Sequence[pa.Array | pa.ChunkedArray]) -> tuple[np.ndarray, np.ndarray]:
    """The distinct combinations of the columns' values, a null a value of its own.

    Returns (id of each row's combination, from 0 up in the order of the codes; a row of
    each id), computed on integer codes: each column dictionary encoded, the codes
    combined in mixed radix (`combine_codes`), then numbered (`dense_ids`).
    """
    combined, radix = np.zeros(len(columns[0]) if columns else 0, np.int64), 1
    for column in columns:
        if isinstance(column, pa.ChunkedArray):
            column = column.combine_chunks()
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        combined, radix = combine_codes(
            combined, radix, dictionary_codes(encoded), len(encoded.dictionary)
        )
    return dense_ids(combined, radix)


def combine_codes(
    combined: np.ndarray, radix: int, codes: np.ndarray, size: int
) -> tuple[np.ndarray, int]:
    """Codes in [0, radix) and codes in [0, size) -> one code per row, in [0, new radix).

    Renumbers densely first when the product would overflow int64.
    """
    size = max(size, 1)
    if radix * size >= _CODE_LIMIT:
        _, combined = np.unique(combined, return_inverse=True)
        combined = combined.reshape(-1).astype(np.int64, copy=False)
        radix = int(combined.max(initial=0)) + 1
    return combined * size + codes, radix * size


def dense_ids(codes: np.ndarray, radix: int) -> tuple[np.ndarray, np.ndarray]:
    """Codes in [0, radix) numbered 0, 1, ... in ascending order: (id per code; a position
    of each id). Small code spaces are counted, large ones sorted."""
    count = len(codes)
    if radix <= max(4 * count, 1 << 16):
        present = np.zeros(radix, np.int64)
        present[codes] = 1
        id_of_code = np.cumsum(present) - 1
        ids = id_of_code[codes]
        representative = np.zeros(int(id_of_code[-1]) + 1 if count else 0, np.int64)
        representative[ids] = np.arange(count)  # some position of each id
        return ids, representative
    _, representative, ids = np.unique(codes, return_index=True, return_inverse=True)
    return ids.reshape(-1).astype(np.int64, copy=False), representative


def _group_sum(codes: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct codes, ascending, and the sum of `counts` for each (exact integers)."""
    if not codes.size:
        return codes, counts
    order = np.argsort(codes, kind="stable")
    ordered = codes[order]
    starts = np.flatnonzero(np.concatenate(([True], ordered[1:] != ordered[:-1])))
    return ordered[starts], np.add.reduceat(counts[order], starts)


def _split(codes: np.ndarray, radix: int) -> tuple[np.ndarray, np.ndarray]:
    return (codes // radix).astype(_INDEX), (codes % radix).astype(_INDEX)


# --- pairs of one batch or many -------------------------------------------------------------


@dataclass(eq=False)
class SensitiveValues:
    """Distinct (class, value) of one sensitive attribute, as indices."""

    values: pa.Array  # distinct non-null values, as text
    pair_class: np.ndarray  # index into the classes of the ClassPairs holding it
    pair_value: np.ndarray  # index into `values`


@dataclass(eq=False)
class ClassPairs:
    """Distinct level-0 classes, subjects and (class, subject) pairs with their rows."""

    classes: pa.Table  # one string column per quasi-identifier, nulls kept
    subjects: pa.Array  # subject keys (`subject_keys`)
    pair_class: np.ndarray  # index into `classes`
    pair_subject: np.ndarray  # index into `subjects`
    pair_rows: np.ndarray  # rows of each pair (int64)
    sensitive: dict[str, SensitiveValues] = field(default_factory=dict)

    @property
    def size(self) -> int:
        return len(self.pair_rows)

    @property
    def rows(self) -> int:
        return int(self.pair_rows.sum())

    def to_table(self, quasi_identifiers: tuple[str, ...]) -> pa.Table:
        """(class key, subject, rows) per pair, sorted: for tests and inspection."""
        keys = class_keys(self.classes, quasi_identifiers)
        table = pa.table(
            {
                "class": keys.take(pa.array(self.pair_class)),
                "subject": self.subjects.take(pa.array(self.pair_subject)),
                "rows": pa.array(self.pair_rows, pa.int64()),
            }
        )
        return table.sort_by([("class", "ascending"), ("subject", "ascending")])

    def sensitive_table(self, quasi_identifiers: tuple[str, ...]) -> pa.Table:
        """(class key, attribute, value) per distinct value, sorted: for tests."""
        keys = class_keys(self.classes, quasi_identifiers)
        tables = [
            pa.table(
                {
                    "class": keys.take(pa.array(part.pair_class)),
                    "attribute": pa.array([attribute] * len(part.pair_class), pa.string()),
                    "value": part.values.take(pa.array(part.pair_value)),
                }
            )
            for attribute, part in sorted(self.sensitive.items())
        ]
        names = ["class", "attribute", "value"]
        if not tables:
            return pa.schema([(name, pa.string()) for name in names]).empty_table()
        return pa.concat_tables(tables).sort_by([(name, "ascending") for name in names])


def _empty_pairs(targets: PrivacyTargets) -> ClassPairs:
    empty = np.zeros(0, _INDEX)
    return ClassPairs(
        classes=pa.schema(
            [(name, pa.string()) for name in targets.quasi_identifiers]
        ).empty_table(),
        subjects=pa.array([], pa.string()),
        pair_class=empty,
        pair_subject=empty,
        pair_rows=np.zeros(0, np.int64),
        sensitive={
            attribute: SensitiveValues(pa.array([], pa.string()), empty, empty)
            for attribute in _sensitive_attributes(targets)
        },
    )


def _sensitive_attributes(targets: PrivacyTargets) -> tuple[str, ...]:
    return targets.sensitive if targets.l else ()


def batch_pairs(table: pa.Table, targets: PrivacyTargets) -> ClassPairs:
    """The distinct level-0 classes, subjects, pairs and sensitive values of a table."""
    if not table.num_rows:
        return _empty_pairs(targets)
    columns = [
        table.column(name).combine_chunks().cast(pa.string()) for name in targets.quasi_identifiers
    ]
    class_of_row, representative = distinct_rows(columns)
    classes = pa.table(
        [column.take(pa.array(representative)) for column in columns],
        names=list(targets.quasi_identifiers),
    )
    encoded = subject_keys(table, targets.subject).dictionary_encode()
    subjects = len(encoded.dictionary)
    codes, rows = np.unique(class_of_row * subjects + dictionary_codes(encoded), return_counts=True)
    pair_class, pair_subject = _split(codes, subjects)
    sensitive = {}
    for attribute in _sensitive_attributes(targets):
        values = table.column(attribute).combine_chunks().cast(pa.string())
        valid = pc.is_valid(values).to_numpy(zero_copy_only=False)
        value_codes = values.filter(pa.array(valid)).dictionary_encode()
        radix = max(len(value_codes.dictionary), 1)
        distinct = np.unique(class_of_row[valid] * radix + dictionary_codes(value_codes))
        value_class, value_index = _split(distinct, radix)
        sensitive[attribute] = SensitiveValues(value_codes.dictionary, value_class, value_index)
    return ClassPairs(classes, encoded.dictionary, pair_class, pair_subject, rows, sensitive)


def _offsets(sizes: Iterable[int]) -> list[int]:
    return [0, *np.cumsum(list(sizes), dtype=np.int64).tolist()]


def _encode_end_to_end(arrays: list[pa.Array]) -> pa.DictionaryArray:
    """The text arrays end to end, dictionary-encoded. They are joined with 64-bit offsets
    (the values repeated across many parts can pass 2 GiB), and the distinct values come
    back as `string` whenever they fit."""
    joined = pa.concat_arrays([array.cast(pa.large_string()) for array in arrays])
    encoded = joined.dictionary_encode()
    distinct = encoded.dictionary
    if distinct.nbytes < 2**31 - 1:
        distinct = distinct.cast(pa.string())
    return pa.DictionaryArray.from_arrays(encoded.indices, distinct)


def merge_pairs(parts: list[ClassPairs], targets: PrivacyTargets) -> ClassPairs:
    """One ClassPairs for all the parts: shared classes and subjects, rows summed per pair."""
    parts = [part for part in parts if part.size]
    if not parts:
        return _empty_pairs(targets)
    classes = pa.concat_tables([part.classes for part in parts])
    class_ids, representative = distinct_rows(classes.columns)
    class_start = _offsets(part.classes.num_rows for part in parts)
    subjects = _encode_end_to_end([part.subjects for part in parts])
    subject_ids = dictionary_codes(subjects)
    subject_start = _offsets(len(part.subjects) for part in parts)
    radix = max(len(subjects.dictionary), 1)
    codes = np.concatenate(
        [
            class_ids[class_start[n] + part.pair_class] * radix
            + subject_ids[subject_start[n] + part.pair_subject]
            for n, part in enumerate(parts)
        ]
    )
    codes, rows = _group_sum(codes, np.concatenate([part.pair_rows for part in parts]))
    pair_class, pair_subject = _split(codes, radix)
    sensitive = {}
    for attribute in _sensitive_attributes(targets):
        pieces = [part.sensitive[attribute] for part in parts]
        values = _encode_end_to_end([piece.values for piece in pieces])
        value_ids = dictionary_codes(values)
        value_start = _offsets(len(piece.values) for piece in pieces)
        value_radix = max(len(values.dictionary), 1)
        value_codes = np.unique(
            np.concatenate(
                [
                    class_ids[class_start[n] + piece.pair_class] * value_radix
                    + value_ids[value_start[n] + piece.pair_value]
                    for n, piece in enumerate(pieces)
                ]
            )
        )
        value_class, value_index = _split(value_codes, value_radix)
        sensitive[attribute] = SensitiveValues(values.dictionary, value_class, value_index)
    return ClassPairs(
        classes.take(pa.array(representative)),
        subjects.dictionary,
        pair_class,
        pair_subject,
        rows,
        sensitive,
    )


# --- measures ----------------------------------------------------------------------------


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


def _counts(sizes: np.ndarray) -> dict[int, int]:
    values, counts = np.unique(sizes, return_counts=True)
    return {int(value): int(count) for value, count in zip(values, counts, strict=True)}


def _risk_sum(sizes: np.ndarray, rows: np.ndarray) -> float:
    """Sum over classes of rows / subjects, summed by size in ascending order."""
    by_size, totals = _group_sum(sizes, rows)
    return sum(int(total) / int(size) for size, total in zip(by_size, totals, strict=True))


def _distinct_count(ids: np.ndarray, size: int) -> int:
    seen = np.zeros(size, bool)
    seen[ids] = True
    return int(np.count_nonzero(seen))


def _measure(
    pairs: ClassPairs, keys: pa.Array, targets: PrivacyTargets, level: int
) -> LevelMeasure:
    """The measure of one level, `keys` being the level's key of each level-0 class."""
    encoded = keys.dictionary_encode()
    class_of = dictionary_codes(encoded)  # level class of each level-0 class
    classes = len(encoded.dictionary)
    subjects = len(pairs.subjects)
    radix = max(subjects, 1)
    codes, rows = _group_sum(
        class_of[pairs.pair_class] * radix + pairs.pair_subject, pairs.pair_rows
    )
    pair_class, pair_subject = codes // radix, codes % radix
    unknown = pc.index(pairs.subjects, UNKNOWN_SUBJECT).as_py()
    known = pair_subject != unknown
    sizes = np.bincount(pair_class[known], minlength=classes)
    class_rows = np.zeros(classes, np.int64)
    present, sums = _group_sum(pair_class, rows)
    class_rows[present] = sums
    failing = sizes < targets.k
    distinct_values: dict[str, np.ndarray] = {}
    for attribute in _sensitive_attributes(targets):
        values = pairs.sensitive[attribute]
        value_radix = max(len(values.values), 1)
        value_codes = np.unique(class_of[values.pair_class] * value_radix + values.pair_value)
        distinct_values[attribute] = np.bincount(value_codes // value_radix, minlength=classes)
        failing |= distinct_values[attribute] < targets.l
    kept = ~failing
    in_failing = failing[pair_class]
    in_single = (sizes == 1)[pair_class]
    failing_keys = encoded.dictionary.filter(pa.array(failing)).to_pylist()
    kept_sizes, kept_rows = sizes[kept], class_rows[kept]
    total_rows = int(kept_rows.sum())
    risk = _risk_sum(kept_sizes, kept_rows) / total_rows if total_rows else 0.0
    return LevelMeasure(
        level=level,
        subjects=_distinct_count(pair_subject, subjects),
        classes=classes,
        class_sizes=_counts(sizes),
        failing_classes=sorted(failing_keys),
        failing_subjects=_distinct_count(pair_subject[in_failing], subjects),
        failing_rows=int(rows[in_failing].sum()),
        unique_subjects=_distinct_count(pair_subject[in_single], subjects),
        k_after=int(kept_sizes.min()) if kept_sizes.size else 0,
        average_risk_after=risk,
        l_after={
            attribute: int(counts[kept].min() if kept.any() else 0)
            for attribute, counts in distinct_values.items()
        },
        class_sizes_after=_counts(kept_sizes),
    )


def measure_levels(
    pairs: ClassPairs,
    targets: PrivacyTargets,
    hierarchy: Hierarchy,
    levels: int | Iterable[int] | None = None,
) -> list[LevelMeasure]:
    """Measures of the given levels (all of them by default; `range(levels)` for an int).

    The hierarchy climbs the distinct level-0 classes only, never the rows.
    """
    if levels is None:
        levels = hierarchy.levels
    wanted = list(range(levels) if isinstance(levels, int) else levels)
    found: dict[int, LevelMeasure] = {}
    for level, generalised in enumerate(hierarchy.each_level(pairs.classes)):
        if level in wanted:
            keys = class_keys(generalised, targets.quasi_identifiers)
            found[level] = _measure(pairs, keys, targets, level)
    return [found[level] for level in wanted]
