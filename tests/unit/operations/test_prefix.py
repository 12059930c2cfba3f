"""Known answers for the `prefix` operation."""

from __future__ import annotations

import pyarrow as pa
import pytest

from schemas.model import Prefix
from transforms.operations import prefix


def test_known_answers() -> None:
    values = pa.array(["14749-6", "  GLY ", "AB", None, "", "Glycémie"])
    result = prefix.apply(values, Prefix(length=3))
    assert result.values.to_pylist() == ["147", "GLY", "AB", None, "", "Gly"]
    assert result.flagged is None and result.rejected is None
    # counts characters, not bytes
    assert prefix.apply(pa.array(["éèà"]), Prefix(length=2)).values.to_pylist() == ["éè"]


def test_empty_and_bad_length() -> None:
    assert prefix.apply(pa.array([], pa.string()), Prefix(length=2)).values.to_pylist() == []
    with pytest.raises(ValueError):
        prefix.apply(pa.array(["x"]), Prefix(length=0))


def test_chunk_independence() -> None:
    values = pa.array(["abcdef", None, " xy", "z", "", "12345"])
    whole = prefix.apply(values, Prefix(length=2)).values
    for cut in range(len(values) + 1):
        parts = [prefix.apply(values[:cut], Prefix(2)), prefix.apply(values[cut:], Prefix(2))]
        assert pa.concat_arrays([p.values for p in parts]).equals(whole)
