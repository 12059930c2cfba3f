import pyarrow as pa

from schemas.model import Fpe
from transforms.fpe import FF1, fpe_nir_decrypt
from transforms.nir import nir_key, normalise_nir_array
from transforms.operations import format_preserving

KEY = bytes(range(32))


def test_nir_becomes_a_synthetic_nir_shaped_value_that_decrypts():
    values = pa.array(["2 84 05 88 321 025 32", None, "284052A321025", "bad"])
    result = format_preserving.apply(values, Fpe("nir_fpe", "nir", "patient"), key=KEY, tweak=b"")
    out = result.values.to_pylist()
    assert out[1] is None and out[3] is None
    assert result.flagged.to_pylist() == [False, False, False, True]
    for value, body in ((out[0], "2840588321025"), (out[2], "284052A321025")):
        assert len(value) == 15 and value.isdigit() and value[0] == "8"
        assert int(value[13:]) == nir_key(value[:13])
        assert fpe_nir_decrypt(KEY, b"", value) == body
    _, invalid = normalise_nir_array(pa.array([out[0]]))
    assert invalid.to_pylist() == [True]  # marked synthetic: never a certified NIR


def test_digits_keep_their_length_and_short_values_are_refused():
    values = pa.array(["06 12 34 56 78", "12345", None, "0612345678"])
    result = format_preserving.apply(values, Fpe("tel", "digits", "phone"), key=KEY, tweak=b"")
    out = result.values.to_pylist()
    assert out[0] == out[3] and len(out[0]) == 10 and out[0].isdigit() and out[0] != "0612345678"
    assert FF1(KEY, 10).decrypt(out[0]) == "0612345678"
    assert out[1] is None and out[2] is None
    assert result.flagged.to_pylist() == [False, True, False, False]
    assert result.flag_code == "too-short-for-fpe"
