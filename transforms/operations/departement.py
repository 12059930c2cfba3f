"""Generalise an INSEE commune code to its département.

The département is the first 2 characters of the commune code (`56260` -> `56`,
`2A004` -> `2A`), or the first 3 for the overseas codes starting with 97 or 98
(`97209` -> `972`). Never apply this to a postal code: Corsican postal codes start
with 20 for both 2A and 2B, and overseas ones with 97.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import Departement
from transforms.operations.result import OperationResult

FLAG_CODE = "invalid-insee-code"

# Five digits, or 2A/2B and three digits; minus the prefixes no commune code has:
# 00, 20 (Corsica has been 2A and 2B since 1976) and 96.
_SHAPE = r"^([0-9]{5}|2[AB][0-9]{3})$"
_NO_DEPARTEMENT = r"^(00|20|96)"


def apply(values: pa.Array, op: Departement) -> OperationResult:
    """The département of each commune code, trimmed and upper-cased first.

    A null or blank value gives null. Any other value that is not a commune code
    gives null and is flagged `invalid-insee-code`. Codes starting with 99 (a foreign
    country) pass as "99", as in the NIR.
    """
    # Value by value: work on the distinct codes, then spread the results to the rows.
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = values.cast(pa.string()).dictionary_encode()
    code = pc.utf8_upper(pc.utf8_trim_whitespace(encoded.dictionary))
    code = pc.if_else(pc.equal(code, ""), pa.scalar(None, pa.string()), code)
    valid = pc.and_(
        pc.match_substring_regex(code, _SHAPE),
        pc.invert(pc.match_substring_regex(code, _NO_DEPARTEMENT)),
    )
    valid = pc.fill_null(valid, False)
    overseas = pc.match_substring_regex(code, r"^9[78]")
    derived = pc.if_else(
        overseas, pc.utf8_slice_codeunits(code, 0, 3), pc.utf8_slice_codeunits(code, 0, 2)
    )
    flagged = pc.fill_null(pc.and_(pc.is_valid(code), pc.invert(valid)), False)
    result = pc.if_else(valid, derived, pa.scalar(None, pa.string()))
    return OperationResult(
        values=pc.take(result, encoded.indices),
        flagged=pc.fill_null(pc.take(flagged, encoded.indices), False),
        flag_code=FLAG_CODE,
    )
