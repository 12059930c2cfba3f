"""fpe: format-preserving encryption (FF1), digits to digits, a NIR to a synthetic NIR.

`nir`: the validated 13-character body becomes a 15-digit NIR-shaped value whose first
digit marks it synthetic (7 or 8) and whose control key is valid. `digits`: the
digits of the value (6 or more) become as many digits. Values the format refuses
(an invalid NIR, fewer than 6 digits) get a null and are flagged, or reject the row.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import Fpe
from transforms.distinct import map_distinct
from transforms.fpe import FF1, fpe_nir_many, min_length
from transforms.normalisers import normalise
from transforms.operations.result import OperationResult

DIGITS_MIN = min_length(10)


def apply(values: pa.Array, op: Fpe, *, key: bytes, tweak: bytes) -> OperationResult:
    if op.format == "nir":
        normalised = normalise(values, "nir")
        refused, reason = normalised.refused, normalised.reason
        bodies = normalised.values
        encrypted = map_distinct(bodies, lambda many: fpe_nir_many(key, tweak, many))
    else:
        normalised = normalise(values, "digits")
        short = pc.fill_null(pc.less(pc.utf8_length(normalised.values), DIGITS_MIN), False)
        refused = pc.or_(normalised.refused, short)
        reason = "too-short-for-fpe"
        digits = pc.if_else(short, pa.scalar(None, pa.string()), normalised.values)
        cipher = FF1(key, 10)
        encrypted = map_distinct(digits, lambda many: cipher.encrypt_many(many, tweak))
    if op.on_invalid == "reject":
        return OperationResult(encrypted, rejected=refused, reject_code=reason)
    return OperationResult(encrypted, flagged=refused, flag_code=reason)
