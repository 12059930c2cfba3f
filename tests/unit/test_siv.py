import base64
import copy
import hashlib
import hmac
import pickle
import re

import pyarrow as pa
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from hypothesis import given, settings
from hypothesis import strategies as st

from transforms.keyring import SecretKey
from transforms.siv import (
    SivCipher,
    SivTokenError,
    associated_data,
    derive_siv_key,
    token_key_id,
)
from transforms.tokeniser import derive_domain_key

SECRET = bytes(range(32))
KEY = SecretKey("k1", SECRET)
OTHER = SecretKey("k2", bytes(reversed(SECRET)))
CANARY = "2840588321025"
TOKEN = re.compile(r"v1\.k1\.[A-Za-z0-9_-]+")


def cipher(key=KEY, domain="patient", column="nir") -> SivCipher:
    return SivCipher(key, domain, column)


# -- RFC 5297: is `cryptography`'s AESSIV the construction we mean, used the way we mean --


def test_rfc5297_a1_deterministic_example():
    key = bytes.fromhex("fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff")
    ad = bytes.fromhex("101112131415161718191a1b1c1d1e1f2021222324252627")
    plaintext = bytes.fromhex("112233445566778899aabbccddee")
    expected = bytes.fromhex("85632d07c6e8f37f950acd320a2ecc9340c02b9690c4dc04daef7f6afe5c")
    assert AESSIV(key).encrypt(plaintext, [ad]) == expected  # SIV (16 bytes) first
    assert AESSIV(key).decrypt(expected, [ad]) == plaintext


def test_rfc5297_a2_several_associated_data_components():
    key = bytes.fromhex("7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f")
    ads = [
        bytes.fromhex(
            "00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100"
        ),
        bytes.fromhex("102030405060708090a0"),
        bytes.fromhex("09f911029d74e35bd84156c5635688c0"),  # the nonce, as the last component
    ]
    plaintext = bytes.fromhex(
        "7468697320697320736f6d6520706c61"
        "696e7465787420746f20656e63727970"
        "74207573696e67205349562d414553"
    )
    expected = bytes.fromhex(
        "7bdb6e3b432667eb06f4d14bff2fbd0f"
        "cb900f2fddbe404326601965c889bf17"
        "dba77ceb094fa663b7a3f748ba8af829"
        "ea64ad544a272e9c485b62a3fd5c0d"
    )
    assert AESSIV(key).encrypt(plaintext, ads) == expected


# -- the documented formula --------------------------------------------------------------


def independent_token(secret: bytes, key_id: str, domain: str, column: str, value: str) -> str:
    """The module docstring's formula, with the standard library's HMAC for RFC 5869 HKDF."""
    prk = hmac.new(b"\0" * 32, secret, hashlib.sha256).digest()
    info = b"pseudolab/v1/siv/" + domain.encode()
    t1 = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    t2 = hmac.new(prk, t1 + info + b"\x02", hashlib.sha256).digest()
    ad = b"pseudolab/v1/siv"
    for field in (key_id, domain, column):
        ad += len(field.encode()).to_bytes(2, "big") + field.encode()
    raw = AESSIV(t1 + t2).encrypt(value.encode("utf-8"), [ad])
    return f"v1.{key_id}." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("value", [CANARY, "", "é", "Ünïcödé 名前", "x" * 1000])
def test_token_matches_the_documented_formula(value):
    assert cipher().encrypt(value) == independent_token(SECRET, "k1", "patient", "nir", value)


def test_known_answer_is_stable_across_versions():
    assert cipher().encrypt(CANARY) == "v1.k1.vXJa7H_PTWTs2Pj8T5lTM9pnB_w7XdMUYtTRiuA"


def test_siv_key_is_64_bytes_per_domain_and_apart_from_the_token_keys():
    key = derive_siv_key(KEY, "patient")
    assert len(key) == 64
    assert key != derive_siv_key(KEY, "prescripteur")
    assert derive_domain_key(KEY, "patient") not in key


def test_associated_data_fields_cannot_run_into_each_other():
    assert associated_data("k1", "a|b", "c") != associated_data("k1", "a", "b|c")
    assert associated_data("k1", "ab", "c") != associated_data("k1", "a", "bc")
    assert cipher(domain="a", column="bc").encrypt("v") != cipher(domain="a", column="b").encrypt(
        "v"
    )


# -- determinism, round trips, binding ---------------------------------------------------


def test_same_value_same_token_and_round_trip():
    first, second = cipher(), cipher()
    token = first.encrypt(CANARY)
    assert TOKEN.fullmatch(token)
    assert second.encrypt(CANARY) == token
    assert second.decrypt(token) == CANARY


@settings(max_examples=200, deadline=None)
@given(st.text())
def test_any_text_round_trips(value):
    token = cipher().encrypt(value)
    assert TOKEN.fullmatch(token)
    assert cipher().decrypt(token) == value


@pytest.mark.parametrize(
    "other",
    [
        lambda: cipher(domain="prescripteur"),
        lambda: cipher(column="nir_mere"),
        lambda: cipher(key=SecretKey("k1", bytes(reversed(SECRET)))),  # same id, other material
    ],
)
def test_other_domain_column_or_key_gives_another_token_that_does_not_decrypt(other):
    token = cipher().encrypt(CANARY)
    other_cipher = other()
    assert other_cipher.encrypt(CANARY) != token
    with pytest.raises(SivTokenError) as caught:
        other_cipher.decrypt(token)
    assert CANARY not in str(caught.value) and token not in str(caught.value)


def test_a_token_names_its_key_and_another_key_refuses_it_clearly():
    token = cipher(key=OTHER).encrypt(CANARY)
    assert token.startswith("v1.k2.") and token_key_id(token) == "k2"
    with pytest.raises(SivTokenError, match="another key than key 'k1'"):
        cipher().decrypt(token)


def test_a_relabelled_token_does_not_decrypt_under_the_named_key():
    token = cipher(key=OTHER).encrypt(CANARY)
    spoofed = "v1.k1." + token.rsplit(".", 1)[1]
    with pytest.raises(SivTokenError, match="does not authenticate"):
        cipher().decrypt(spoofed)


def test_key_ids_with_dots_are_read_whole():
    dotted = SecretKey("k2025.01-a", SECRET)
    token = cipher(key=dotted).encrypt(CANARY)
    assert token_key_id(token) == "k2025.01-a"
    assert cipher(key=dotted).decrypt(token) == CANARY


def flip(token: str, position: int) -> str:
    char = token[position]
    return token[:position] + ("A" if char != "A" else "B") + token[position + 1 :]


@pytest.mark.parametrize(
    "mangle",
    [
        lambda t: flip(t, -1),
        lambda t: flip(t, 10),
        lambda t: t[:-2],
        lambda t: t + "A",
        lambda t: t + "=",
        lambda t: t.replace("v1.", "v2.", 1),
        lambda t: t.replace("v1.", "", 1),
        lambda t: t.rsplit(".", 1)[0],
        lambda t: t[:6] + "AAAA",
        lambda t: t[:6] + "+" + t[7:],
        lambda t: t[:6] + "*" + t[7:],
        lambda t: t.replace("k1", CANARY),
        lambda t: "v1.k1." + CANARY,
        lambda t: CANARY,
        lambda t: "",
    ],
)
def test_altered_or_malformed_tokens_are_refused_without_echo(mangle):
    token = cipher().encrypt(CANARY)
    with pytest.raises(SivTokenError) as caught:
        cipher().decrypt(mangle(token))
    message = str(caught.value)
    assert CANARY not in message and token[6:] not in message
    assert caught.value.__cause__ is None


def test_one_token_has_one_spelling():
    # The last character of a 29-byte payload carries 2 unused bits: they must be zero.
    token = cipher().encrypt(CANARY)
    payload = token.rsplit(".", 1)[1]
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    twin = token[:-1] + alphabet[alphabet.index(payload[-1]) | 1]
    if twin != token:
        with pytest.raises(SivTokenError, match="canonical"):
            cipher().decrypt(twin)


def test_non_text_is_a_type_error():
    with pytest.raises(TypeError):
        cipher().encrypt(2840588321025)
    with pytest.raises(SivTokenError):
        cipher().decrypt(b"v1.k1.AAAA")


def test_unencodable_text_is_refused_without_echo():
    with pytest.raises(ValueError) as caught:
        cipher().encrypt("abc\ud800")
    assert "abc" not in str(caught.value)


# -- arrays ----------------------------------------------------------------------------


def test_array_tokens_equal_single_tokens_and_keep_nulls():
    siv = cipher()
    values = ["D21-0301-0042", None, "D21-0301-0042", "", "é", None]
    tokens = siv.encrypt_array(pa.array(values))
    assert tokens.type == pa.string()
    assert tokens.to_pylist() == [None if v is None else siv.encrypt(v) for v in values]
    assert siv.decrypt_array(tokens).to_pylist() == values


def test_arrays_of_other_shapes():
    siv = cipher()
    assert siv.encrypt_array(pa.array([], pa.string())).to_pylist() == []
    assert siv.encrypt_array(pa.array([None, None], pa.string())).to_pylist() == [None, None]
    chunked = pa.chunked_array([["a", None], ["b"]], pa.large_string())
    assert siv.encrypt_array(chunked).to_pylist() == [siv.encrypt("a"), None, siv.encrypt("b")]


def test_array_tokens_do_not_depend_on_batch_boundaries():
    siv = cipher()
    values = pa.array([f"P{i % 37:08d}" if i % 11 else None for i in range(1000)])
    whole = siv.encrypt_array(values).to_pylist()
    parts = [siv.encrypt_array(values.slice(start, 97)).to_pylist() for start in range(0, 1000, 97)]
    assert whole == [token for part in parts for token in part]


def test_decrypt_array_refuses_a_bad_token():
    siv = cipher()
    tokens = siv.encrypt_array(pa.array(["a", "b"])).to_pylist()
    with pytest.raises(SivTokenError):
        siv.decrypt_array(pa.array([tokens[0], flip(tokens[1], -1)]))


# -- key hygiene -----------------------------------------------------------------------


def test_repr_hides_the_key_and_pickling_is_refused():
    siv = cipher()
    text = repr(siv) + str(siv)
    for secret in (SECRET, derive_siv_key(KEY, "patient")):
        assert secret.hex() not in text and base64.b64encode(secret).decode() not in text
    assert "k1" in text and "patient" in text and "nir" in text and "hidden" in text
    with pytest.raises(TypeError):
        pickle.dumps(siv)
    with pytest.raises(TypeError):
        copy.deepcopy(siv)


@pytest.mark.parametrize(
    ("args", "error"),
    [
        ((SECRET, "patient", "nir"), TypeError),
        ((KEY, "", "nir"), ValueError),
        ((KEY, "patient", ""), ValueError),
        ((KEY, "patient", None), ValueError),
    ],
)
def test_constructor_checks(args, error):
    with pytest.raises(error):
        SivCipher(*args)
