"""Normalisers: the canonical text a value is tokenised from.

- `nir`:    upper case; spaces, dots and dashes removed; validated (layout, mod-97
            key with 2A/2B); the 13-character body. Invalid values are refused.
- `name`:   Unicode NFKD, combining marks removed, casefolded, runs of white
            space collapsed to one space, trimmed.
- `email`:  white space trimmed, lower case.
- `digits`: every character that is not an ASCII digit removed.
- `exact`:  unchanged.

Null stays null. A present value that normalises to the empty string is refused
too (it would otherwise link every blank to one token).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from transforms.distinct import each, map_distinct
from transforms.nir import normalise_nir_array


@dataclass(frozen=True)
class Normalised:
    values: pa.Array  # normalised strings, null where refused or null
    refused: pa.Array  # bool, no nulls: present in input, refused by the normaliser
    reason: str  # reason code for refused values


def normalise_name_text(value: str) -> str:
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.casefold().split())


def _name(values: pa.Array) -> pa.Array:
    return map_distinct(values, each(normalise_name_text))


def _email(values: pa.Array) -> pa.Array:
    return pc.utf8_lower(pc.utf8_trim_whitespace(values))


def _digits(values: pa.Array) -> pa.Array:
    return pc.replace_substring_regex(values, r"[^0-9]", "")


def _exact(values: pa.Array) -> pa.Array:
    return values


_TEXT_NORMALISERS: dict[str, Callable[[pa.Array], pa.Array]] = {
    "name": _name,
    "email": _email,
    "digits": _digits,
    "exact": _exact,
}


def _refuse_empty(values: pa.Array, normalised: pa.Array) -> Normalised:
    empty = pc.fill_null(pc.equal(pc.utf8_length(normalised), 0), False)
    kept = pc.if_else(empty, pa.scalar(None, pa.string()), normalised)
    return Normalised(kept, empty, "empty-after-normalisation")


def normalise(values: pa.Array, normaliser: str) -> Normalised:
    """Apply a normaliser by name to a string array."""
    values = values.cast(pa.string())
    if normaliser == "nir":
        bodies, invalid = normalise_nir_array(values)
        return Normalised(bodies, invalid, "invalid-nir")
    return _refuse_empty(values, _TEXT_NORMALISERS[normaliser](values))
