"""encrypt: a deterministic, reversible AES-SIV token of the normalised value."""

from __future__ import annotations

import pyarrow as pa

from schemas.model import Encrypt
from transforms.normalisers import normalise
from transforms.operations.result import OperationResult
from transforms.siv import SivCipher


def apply(values: pa.Array, op: Encrypt, *, cipher: SivCipher) -> OperationResult:
    normalised = normalise(values, op.normaliser)
    tokens = cipher.encrypt_array(normalised.values)
    if op.on_invalid == "reject":
        return OperationResult(tokens, rejected=normalised.refused, reject_code=normalised.reason)
    return OperationResult(tokens, flagged=normalised.refused, flag_code=normalised.reason)
