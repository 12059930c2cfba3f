import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.normalisers import normalise, normalise_name_text


def _run(values, normaliser):
    result = normalise(pa.array(values, pa.string()), normaliser)
    return result.values.to_pylist(), result.refused.to_pylist(), result.reason


def test_name_strips_accents_casefolds_and_collapses_spaces():
    values, refused, _ = _run(["  Élodie   LE GALL ", "elodie le gall", "Straße", None], "name")
    assert values == ["elodie le gall", "elodie le gall", "strasse", None]
    assert refused == [False, False, False, False]


def test_email_trims_and_lowers():
    values, _, _ = _run([" M.Dupont@Example.FR ", None], "email")
    assert values == ["m.dupont@example.fr", None]


def test_digits_keeps_digits_only_and_refuses_empty():
    values, refused, reason = _run(["06 12 34 56 78", "+33-6", "abc", None], "digits")
    assert values == ["0612345678", "336", None, None]
    assert refused == [False, False, True, False]
    assert reason == "empty-after-normalisation"


def test_exact_is_unchanged_but_refuses_empty():
    values, refused, _ = _run(["P0001 ", "", None], "exact")
    assert values == ["P0001 ", None, None]
    assert refused == [False, True, False]


def test_nir_normaliser_refuses_invalid_keys():
    values, refused, reason = _run(["2 84 05 88 321 025 32", "2 84 05 88 321 025 31"], "nir")
    assert values == ["2840588321025", None]
    assert refused == [False, True]
    assert reason == "invalid-nir"


@given(st.text())
def test_name_normalisation_is_idempotent(text):
    once = normalise_name_text(text)
    assert normalise_name_text(once) == once


@given(st.lists(st.one_of(st.none(), st.text()), max_size=30))
@pytest.mark.parametrize("normaliser", ["name", "email", "digits", "exact", "nir"])
def test_normalisers_keep_length_and_nulls(normaliser, values):
    result = normalise(pa.array(values, pa.string()), normaliser)
    assert len(result.values) == len(values) == len(result.refused)
    assert result.refused.null_count == 0
    for value, out in zip(values, result.values.to_pylist(), strict=True):
        if value is None:
            assert out is None
