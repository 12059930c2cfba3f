"""Generalise a date or date-time to its month, as "YYYY-MM"."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import YearMonth
from transforms.operations.result import OperationResult


def apply(values: pa.Array, op: YearMonth) -> OperationResult:
    """The month of each date or timestamp as "YYYY-MM" (e.g. "2021-03"); null stays null.

    The ISO text of a date or timestamp starts with "YYYY-MM", so the value is cast to
    string and sliced: ten times faster than `pc.strftime`. Years outside 1000..9999,
    whose ISO text is not 4 digits wide (never produced by `cast_column`), take a
    slower path that joins the year and the zero-padded month.
    A time zone-aware timestamp gives the month of its local wall-clock time.
    """
    if pa.types.is_null(values.type):
        values = values.cast(pa.date32())
    if not (pa.types.is_date(values.type) or pa.types.is_timestamp(values.type)):
        raise TypeError(f"year_month applies to dates and date-times, not {values.type}")
    if pa.types.is_timestamp(values.type) and values.type.tz is not None:
        values = pc.local_timestamp(values)
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    # Each distinct date once (a lab export repeats them), then spread to the rows.
    encoded = values.dictionary_encode()
    distinct = encoded.dictionary
    years = pc.min_max(pc.year(distinct))
    low, high = years["min"].as_py(), years["max"].as_py()
    if low is None or (low >= 1000 and high <= 9999):
        text = pc.utf8_slice_codeunits(distinct.cast(pa.string()), 0, 7)
    else:
        year = pc.utf8_lpad(pc.year(distinct).cast(pa.string()), width=4, padding="0")
        month = pc.utf8_lpad(pc.month(distinct).cast(pa.string()), width=2, padding="0")
        text = pc.binary_join_element_wise(year, month, "-")
    return OperationResult(values=pc.take(text, encoded.indices))
