"""Generalise a number to the half-open interval of fixed width that holds it.

Value 23 with width 10 gives "[20, 30)", -3 gives "[-10, 0)". With a top, values
from the top on give ">= <top>", and the interval just below the top stops at it
(width 10, top 85: "[80, 85)"), so no interval crosses the top. Bounds print without
a trailing ".0" ("[20, 30)", "[0.5, 1)").
"""

from __future__ import annotations

import decimal

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import Bucket
from transforms.operations.result import OperationResult

_MAX_DECIMALS = 12


def _decimals(width: float) -> int:
    """Decimal places of `width` as written (0.1 -> 1, 10 -> 0), at most 12."""
    exponent = decimal.Decimal(repr(float(width))).normalize().as_tuple().exponent
    return min(max(-int(exponent), 0), _MAX_DECIMALS)


def _text(numbers: pa.Array) -> pa.Array:
    """Shortest decimal text of float64 values, "-0" written "0"."""
    return pc.add(numbers, 0.0).cast(pa.string())


def apply(values: pa.Array, op: Bucket) -> OperationResult:
    """The interval label (string) of each integer or float value; null stays null.

    Bounds are multiples of `op.width` rounded to the decimals of the width, so that
    a width of 0.1 gives "[0.3, 0.4)" for 0.3, not "[0.30000000000000004, ...)"; each
    value lies within the bounds of its label as printed. NaN and infinities give null.
    """
    width = float(op.width)
    if not width > 0:
        raise ValueError("bucket width must be positive")
    if not (
        pa.types.is_integer(values.type)
        or pa.types.is_floating(values.type)
        or pa.types.is_null(values.type)
    ):
        raise TypeError(f"bucket applies to numbers, not {values.type}")
    places = _decimals(width)
    x = values.cast(pa.float64(), safe=False)
    x = pc.if_else(pc.is_finite(x), x, pa.scalar(None, pa.float64()))

    def bound(k: pa.Array) -> pa.Array:
        return pc.round(pc.multiply(k, width), places)

    # floor(x / width) may be one off when width is not a binary fraction (0.3 / 0.1 is
    # 2.9999999999999996): correct it against the rounded bounds that get printed.
    k = pc.floor(pc.divide(x, width))
    k = pc.if_else(pc.less(x, bound(k)), pc.subtract(k, 1.0), k)
    k = pc.if_else(pc.greater_equal(x, bound(pc.add(k, 1.0))), pc.add(k, 1.0), k)
    low, high = bound(k), bound(pc.add(k, 1.0))

    if op.top is not None:
        top = float(op.top)
        high = pc.min_element_wise(high, top)
    label = pc.binary_join_element_wise("[", _text(low), ", ", _text(high), ")", "")
    if op.top is not None:
        top_label = ">= " + _text(pa.array([top], pa.float64()))[0].as_py()
        label = pc.if_else(pc.greater_equal(x, top), top_label, label)
    return OperationResult(values=label)
