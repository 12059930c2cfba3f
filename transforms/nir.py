"""The French social security number (NIR): validation and normalisation.

Layout of the 13-character body: sex (1 digit: 1 or 2), year (2), month (01-12, or
20-99 when unknown), birth département (01-95, 2A, 2B, 97, 98, 99), commune or
country (3), order number (3). An optional 2-digit key follows:
key = 97 - (body mod 97), reading 2A as 19 and 2B as 18 for the computation only.
"""

from __future__ import annotations

import pyarrow as pa
import pyarrow.compute as pc

_SEPARATORS = r"[\s.\-]"
_DEPARTEMENT = r"(0[1-9]|[1-8]\d|9[0-5]|2A|2B|97|98|99)"
_MONTH = r"(0[1-9]|1[0-2]|[2-9]\d)"
BODY_PATTERN = rf"^[12]\d{{2}}{_MONTH}{_DEPARTEMENT}\d{{3}}\d{{3}}$"
NIR_PATTERN = rf"^[12]\d{{2}}{_MONTH}{_DEPARTEMENT}\d{{3}}\d{{3}}(\d{{2}})?$"


def _numeric_body(body: str) -> int:
    corsica = {"2A": "19", "2B": "18"}
    return int(body[:5] + corsica.get(body[5:7], body[5:7]) + body[7:])


def nir_key(body: str) -> int:
    """The control key of a 13-character NIR body (upper-case 2A/2B allowed)."""
    if len(body) != 13:
        raise ValueError("a NIR body has 13 characters")
    return 97 - _numeric_body(body) % 97


def clean_nir(value: str) -> str:
    """Upper case, without spaces, dots or dashes (no validation)."""
    return "".join(ch for ch in value.upper() if not (ch.isspace() or ch in ".-"))


def normalise_nir_array(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """Vectorised: (13-character bodies, invalid mask).

    A null input gives a null body and is not invalid; a value that fails the
    layout or the key gives a null body and is flagged invalid.
    """
    values = values.cast(pa.string())
    cleaned = pc.replace_substring_regex(pc.utf8_upper(values), _SEPARATORS, "")
    well_formed = pc.fill_null(pc.match_substring_regex(cleaned, NIR_PATTERN), False)
    length = pc.utf8_length(cleaned)
    has_key = pc.and_(well_formed, pc.equal(length, 15))

    body = pc.utf8_slice_codeunits(cleaned, 0, 13)
    # Corsican départements read as digits for the key: 2A -> 19, 2B -> 18.
    digits = pc.replace_substring(pc.replace_substring(body, "2A", "19"), "2B", "18")
    # Only positions 6-7 can hold letters once the layout matched, so a plain
    # replace is exact there. Cast only well-formed bodies; others become "0".
    safe_digits = pc.if_else(has_key, digits, pa.scalar("0"))
    number = pc.cast(safe_digits, pa.int64())
    remainder = pc.subtract(number, pc.multiply(pc.divide(number, 97), 97))
    expected = pc.subtract(pa.scalar(97, pa.int64()), remainder)
    given = pc.cast(pc.if_else(has_key, pc.utf8_slice_codeunits(cleaned, 13, 15), "0"), pa.int64())
    key_ok = pc.or_(pc.invert(has_key), pc.equal(expected, given))

    valid = pc.and_(well_formed, key_ok)
    present = pc.is_valid(values)
    invalid = pc.fill_null(pc.and_(present, pc.invert(valid)), False)
    bodies = pc.if_else(valid, body, pa.scalar(None, pa.string()))
    return bodies, invalid
