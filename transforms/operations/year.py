"""Generalise a date or date-time to its year."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import Year
from transforms.operations.result import OperationResult


def apply(values: pa.Array, op: Year) -> OperationResult:
    """The year (int32) of each date32, date64 or timestamp value; null stays null.

    A time zone-aware timestamp gives the year of its local wall-clock time.
    """
    if pa.types.is_null(values.type):
        values = values.cast(pa.date32())
    if not (pa.types.is_date(values.type) or pa.types.is_timestamp(values.type)):
        raise TypeError(f"year applies to dates and date-times, not {values.type}")
    return OperationResult(values=pc.year(values).cast(pa.int32()))
