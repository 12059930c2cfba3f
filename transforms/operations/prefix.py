"""Generalise a string to its first characters (a code to its family, say)."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import Prefix
from transforms.operations.result import OperationResult


def apply(values: pa.Array, op: Prefix) -> OperationResult:
    """The first `op.length` characters of each value, once surrounding whitespace is
    trimmed; shorter values are kept whole and null stays null."""
    if op.length < 1:
        raise ValueError("prefix length must be at least 1")
    trimmed = pc.utf8_trim_whitespace(values.cast(pa.string()))
    return OperationResult(values=pc.utf8_slice_codeunits(trimmed, 0, op.length))
