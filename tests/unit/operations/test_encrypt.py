import pyarrow as pa

from schemas.model import Encrypt
from transforms.keyring import SecretKey
from transforms.operations import encrypt
from transforms.siv import SivCipher

KEY = SecretKey("k1", bytes(range(32)))


def test_encrypt_is_deterministic_reversible_and_keeps_nulls():
    cipher = SivCipher(KEY, "patient", "ipp")
    op = Encrypt("ipp_enc", "exact", "patient")
    result = encrypt.apply(pa.array(["P1", None, "P1", "P2"]), op, cipher=cipher)
    tokens = result.values.to_pylist()
    assert tokens[0] == tokens[2] != tokens[3] and tokens[1] is None
    assert tokens[0].startswith("v1.k1.")
    assert [cipher.decrypt(t) for t in (tokens[0], tokens[3])] == ["P1", "P2"]


def test_encrypt_uses_the_normaliser_and_flags_refused_values():
    cipher = SivCipher(KEY, "patient", "nir")
    op = Encrypt("nir_enc", "nir", "patient")
    result = encrypt.apply(pa.array(["2 84 05 88 321 025 32", "bad"]), op, cipher=cipher)
    assert cipher.decrypt(result.values[0].as_py()) == "2840588321025"
    assert result.values[1].as_py() is None
    assert result.flagged.to_pylist() == [False, True] and result.flag_code == "invalid-nir"


def test_encrypt_can_reject_refused_values():
    cipher = SivCipher(KEY, "patient", "nir")
    op = Encrypt("nir_enc", "nir", "patient", on_invalid="reject")
    result = encrypt.apply(pa.array(["bad"]), op, cipher=cipher)
    assert result.rejected.to_pylist() == [True] and result.reject_code == "invalid-nir"
