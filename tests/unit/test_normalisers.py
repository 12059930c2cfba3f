import pyarrow as pa
import pytest
from hypothesis import given
from hypothesis import strategies as st

from transforms.nir import nir_key
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


# --- properties -------------------------------------------------------------------------

_DEPARTEMENTS = [f"{d:02d}" for d in range(1, 96)] + ["2A", "2B", "97", "98", "99"]
_NIR_BODIES = st.builds(
    lambda sex, year, month, dept, commune, order: (
        f"{sex}{year:02d}{month}{dept}{commune:03d}{order:03d}"
    ),
    st.sampled_from("12"),
    st.integers(0, 99),
    st.one_of(st.integers(1, 12), st.integers(20, 99)).map(lambda m: f"{m:02d}"),
    st.sampled_from(_DEPARTEMENTS),
    st.integers(0, 999),
    st.integers(0, 999),
)
_SEPARATORS = st.lists(st.sampled_from(["", " ", ".", "-", "  "]), min_size=7, max_size=7)


def _spelled(nir: str, separators: list[str], lower: bool) -> str:
    groups = [nir[0], nir[1:3], nir[3:5], nir[5:7], nir[7:10], nir[10:13], nir[13:]]
    text = "".join(g + s for g, s in zip(groups, separators, strict=True) if g)
    return text.lower() if lower else text


@given(_NIR_BODIES, _SEPARATORS, st.booleans(), st.booleans())
def test_any_spelling_of_a_valid_nir_normalises_to_its_body(body, separators, keyed, lower):
    nir = body + (f"{nir_key(body):02d}" if keyed else "")
    values, refused, _ = _run([_spelled(nir, separators, lower)], "nir")
    assert values == [body] and refused == [False]


@given(_NIR_BODIES, st.integers(1, 96))
def test_a_nir_with_a_wrong_key_is_always_refused(body, shift):
    wrong = (nir_key(body) + shift - 1) % 97 + 1  # keys run from 1 to 97; never the right one
    values, refused, reason = _run([f"{body}{wrong:02d}"], "nir")
    assert values == [None] and refused == [True] and reason == "invalid-nir"


_TEXT = st.text(st.characters(exclude_categories=("Cs",)), max_size=30)


@given(st.lists(st.one_of(st.none(), _TEXT), max_size=20))
def test_digits_gives_ascii_digits_or_a_refusal(values):
    out, refused, _ = _run(values, "digits")
    for value, normalised, was_refused in zip(values, out, refused, strict=True):
        expected = None if value is None else "".join(c for c in value if c in "0123456789")
        assert was_refused == (expected == "")
        assert normalised == (None if was_refused else expected)


@given(st.lists(st.one_of(st.none(), _TEXT), max_size=20), st.sampled_from(["name", "email"]))
def test_text_normalisers_are_idempotent_and_refuse_only_empty_results(values, normaliser):
    once, refused, _ = _run(values, normaliser)
    twice, _, _ = _run(once, normaliser)
    assert twice == once
    for value, normalised, was_refused in zip(values, once, refused, strict=True):
        assert was_refused == (value is not None and normalised is None)
        assert normalised != ""
