"""tokenise: a keyed, irreversible token of the normalised value."""

from __future__ import annotations

import pyarrow as pa

from schemas.model import Tokenise
from transforms.normalisers import normalise
from transforms.operations.result import OperationResult
from transforms.tokeniser import Tokeniser


def apply(values: pa.Array, op: Tokenise, *, tokeniser: Tokeniser) -> OperationResult:
    normalised = normalise(values, op.normaliser)
    tokens = tokeniser.tokenise_array(normalised.values)
    if op.on_invalid == "reject":
        return OperationResult(tokens, rejected=normalised.refused, reject_code=normalised.reason)
    return OperationResult(tokens, flagged=normalised.refused, flag_code=normalised.reason)
