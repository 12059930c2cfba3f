"""Operations on pyarrow arrays, one module each, and the registry of generalisers."""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa

from schemas.model import AgeBand, Bucket, Departement, Operation, Prefix, Year, YearMonth
from transforms.operations import age_band, bucket, departement, prefix, year, year_month
from transforms.operations.result import OperationResult

GENERALISERS: dict[type, Callable[..., OperationResult]] = {
    Year: year.apply,
    YearMonth: year_month.apply,
    AgeBand: age_band.apply,
    Departement: departement.apply,
    Prefix: prefix.apply,
    Bucket: bucket.apply,
}

GENERALISE_OUTPUT_TYPES: dict[type, pa.DataType] = {
    Year: pa.int32(),
    YearMonth: pa.string(),
    AgeBand: pa.string(),
    Departement: pa.string(),
    Prefix: pa.string(),
    Bucket: pa.string(),
}


def generalise_apply(
    values: pa.Array, operation: Operation, typed: dict[str, pa.Array]
) -> OperationResult:
    """Run one generalise operation; `typed` holds the batch's typed columns by name."""
    if isinstance(operation, AgeBand):
        return age_band.apply(values, operation, reference=typed[operation.reference])
    return GENERALISERS[type(operation)](values, operation)
