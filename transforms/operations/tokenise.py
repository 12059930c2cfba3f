"""tokenise: a keyed, irreversible token of the normalised value."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import Tokenise
from transforms.normalisers import normalise
from transforms.operations.result import OperationResult
from transforms.tokeniser import Tokeniser


def apply(values: pa.Array, op: Tokenise, *, tokeniser: Tokeniser) -> OperationResult:
    """Tokens of the normalised values; refused values give null, flagged or rejected.

    Normalisers work value by value, so each distinct input value is normalised and
    hashed once, then spread back to its rows: the same result as on every row (null
    stays null and is never refused), without normalising repeated identifiers again.
    """
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = values.cast(pa.string()).dictionary_encode()
    normalised = normalise(encoded.dictionary, op.normaliser)
    tokens = pc.take(tokeniser.tokenise_array(normalised.values), encoded.indices)
    refused = pc.fill_null(pc.take(normalised.refused, encoded.indices), False)
    if op.on_invalid == "reject":
        return OperationResult(tokens, rejected=refused, reject_code=normalised.reason)
    return OperationResult(tokens, flagged=refused, flag_code=normalised.reason)
