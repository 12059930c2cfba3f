import pyarrow as pa
import pytest

from transforms.nir import clean_nir, nir_key, normalise_nir_array


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ("2840588321025", 32),
        ("284052A321025", 52),
        ("284052B321025", 79),
        ("2951099126111", 93),
    ],
)
def test_keys_from_the_reference_document(body, key):
    assert nir_key(body) == key


def test_key_needs_thirteen_characters():
    with pytest.raises(ValueError):
        nir_key("284058832102")


def test_clean_removes_separators_and_upper_cases():
    assert clean_nir(" 2 84 05 2a.321-025 52 ") == "284052A32102552"


def _normalise(values):
    bodies, invalid = normalise_nir_array(pa.array(values, pa.string()))
    return bodies.to_pylist(), invalid.to_pylist()


def test_spellings_of_one_nir_give_one_body():
    bodies, invalid = _normalise(
        ["2 84 05 88 321 025 32", "2.84.05.88.321.025.32", "284058832102532", "2840588321025"]
    )
    assert bodies == ["2840588321025"] * 4
    assert invalid == [False] * 4


def test_corsica_lower_case_and_dashes():
    bodies, invalid = _normalise(["2-84-05-2a-321-025-52", "2 84 05 2B 321 025 79"])
    assert bodies == ["284052A321025", "284052B321025"]
    assert invalid == [False, False]


@pytest.mark.parametrize(
    "value",
    [
        "2 84 05 88 321 025 33",  # wrong key
        "284052A32102579",  # key of 2B on a 2A body
        "3840588321025",  # sex digit
        "2841388321025",  # month 13
        "2840500321025",  # département 00
        "2840596321025",  # département 96
        "28405883210253",  # 14 characters
        "28405883210",  # too short
        "2840588321O25",  # letter O, not zero
        "",
        "   ",
    ],
)
def test_invalid_values_are_flagged_and_give_no_body(value):
    bodies, invalid = _normalise([value])
    assert bodies == [None]
    assert invalid == [True]


def test_null_stays_null_and_is_not_invalid():
    bodies, invalid = _normalise([None, "2951099126111 93"])
    assert bodies == [None, "2951099126111"]
    assert invalid == [False, False]


def test_unknown_birth_month_and_overseas_births_are_valid():
    for body in ("2842097209111", "1999798209111", "1999899123456", "1019999123456"):
        values = [f"{body}{nir_key(body):02d}"]
        bodies, invalid = _normalise(values)
        assert (bodies, invalid) == ([body], [False])
