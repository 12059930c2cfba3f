"""What every operation returns."""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa


@dataclass(frozen=True)
class OperationResult:
    """The output column of one operation on one batch.

    `flagged` marks values published as null and counted in the report under
    `flag_code`; `rejected` marks rows that must go to rejected/ under `reject_code`.
    Both are boolean arrays aligned with `values`, without nulls, or None.
    """

    values: pa.Array
    flagged: pa.Array | None = None
    flag_code: str | None = None
    rejected: pa.Array | None = None
    reject_code: str | None = None
