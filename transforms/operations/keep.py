"""keep: the value, typed as the policy declares, unchanged."""

from __future__ import annotations

import pyarrow as pa

from schemas.model import Keep
from transforms.operations.result import OperationResult


def apply(values: pa.Array, op: Keep) -> OperationResult:
    return OperationResult(values)
