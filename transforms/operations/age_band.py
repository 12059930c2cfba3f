"""Generalise a birth date to an age band at a reference date.

Age is counted in whole years at the reference date: the difference of the years,
less one when the reference (month, day) comes before the birth (month, day). Someone
born on 29 February therefore turns a year older on 1 March in non-leap years (0 on
28/02/2001, 1 on 01/03/2001) and on 29 February in leap years (4 on 29/02/2004).

Bands are `width` years wide from 0 ("0-4", "5-9", ...) and ages from `top` on are
top-coded as "<top>+". When `top` is not a multiple of `width`, the last band stops
at top - 1 (width 20, top 90: "80-89", then "90+"), so no band crosses the top.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import AgeBand
from transforms.operations.result import OperationResult

REJECT_CODE = "birth-after-reference"


def _as_date(values: pa.Array) -> pa.Array:
    """date32 from a date or timestamp array (the local day of an aware timestamp)."""
    if pa.types.is_date32(values.type):
        return values
    if pa.types.is_null(values.type):
        return values.cast(pa.date32())
    if pa.types.is_date64(values.type):
        return values.cast(pa.date32())
    if pa.types.is_timestamp(values.type):
        if values.type.tz is not None:
            values = pc.local_timestamp(values)
        return values.cast(pa.date32(), safe=False)  # floors, also before 1970
    raise TypeError(f"age_band applies to dates and date-times, not {values.type}")


def band_labels(width: int, top: int) -> list[str]:
    """Labels of the bands in order, the top-coded one last."""
    if width < 1 or top < 1:
        raise ValueError("age band width and top must be at least 1")
    labels = [f"{low}-{min(low + width, top) - 1}" for low in range(0, top, width)]
    return [*labels, f"{top}+"]


def ages(birth: pa.Array, reference: pa.Array) -> pa.Array:
    """Whole years from `birth` to `reference` (int64; negative when birth is later)."""
    birth, reference = _as_date(birth), _as_date(reference)
    birth_md = pc.add(pc.multiply(pc.month(birth), 100), pc.day(birth))
    reference_md = pc.add(pc.multiply(pc.month(reference), 100), pc.day(reference))
    before_birthday = pc.less(reference_md, birth_md).cast(pa.int64())
    return pc.subtract(pc.subtract(pc.year(reference), pc.year(birth)), before_birthday)


def apply(birth: pa.Array, op: AgeBand, *, reference: pa.Array) -> OperationResult:
    """The age band (string) of each birth date at the matching reference date.

    A null birth or reference date gives a null band. A birth after the reference
    gives a null band and rejects the row as `birth-after-reference`.
    """
    if len(birth) != len(reference):
        raise ValueError("birth and reference columns differ in length")
    labels = pa.array(band_labels(op.width, op.top), pa.string())
    age = ages(birth, reference)
    rejected = pc.fill_null(pc.greater(_as_date(birth), _as_date(reference)), False)
    band = pc.if_else(
        pc.greater_equal(age, op.top),
        len(labels) - 1,
        pc.divide(age, op.width),  # integer division, exact for ages >= 0
    )
    band = pc.if_else(rejected, pa.scalar(None, pa.int64()), band)
    return OperationResult(values=labels.take(band), rejected=rejected, reject_code=REJECT_CODE)
