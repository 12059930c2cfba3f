import base64
import hashlib
import hmac
import pickle

import pyarrow as pa
import pytest

from transforms.keyring import SecretKey
from transforms.tokeniser import Tokeniser

SECRET = bytes(range(32))
KEY = SecretKey("k1", SECRET)


def independent_token(secret: bytes, domain: str, value: str) -> str:
    """The README's formula, written with the standard library only (RFC 5869 HKDF)."""
    prk = hmac.new(b"\0" * 32, secret, hashlib.sha256).digest()
    info = b"pseudolab/v1/token/" + domain.encode()
    domain_key = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    digest = hmac.new(domain_key, value.encode("utf-8"), hashlib.sha256).digest()
    return base64.b32encode(digest[:15]).decode().lower()


def test_known_answer_is_stable_across_versions():
    assert Tokeniser(KEY, "patient").token("P00045871") == "ntn6uzaykvfd7q2dsc4oemvu"


@pytest.mark.parametrize("value", ["P00045871", "2840588321025", "é", "", "x" * 1000])
def test_token_matches_the_documented_formula(value):
    token = Tokeniser(KEY, "patient").token(value)
    assert token == independent_token(SECRET, "patient", value)
    assert len(token) == 24 and token == token.lower() and "=" not in token


def test_domains_keep_identifiers_apart():
    assert Tokeniser(KEY, "patient").token("10101234567") != Tokeniser(KEY, "prescripteur").token(
        "10101234567"
    )


def test_other_key_other_token():
    other = SecretKey("k2", bytes(reversed(SECRET)))
    assert Tokeniser(KEY, "patient").token("a") != Tokeniser(other, "patient").token("a")


def test_array_tokens_equal_single_tokens_and_keep_nulls():
    tokeniser = Tokeniser(KEY, "dossier")
    values = ["D21-0301-0042", None, "D21-0301-0042", "D21-0301-0043", "é"]
    tokens = tokeniser.tokenise_array(pa.array(values)).to_pylist()
    assert tokens == [None if v is None else tokeniser.token(v) for v in values]


def test_array_tokens_do_not_depend_on_batch_boundaries():
    tokeniser = Tokeniser(KEY, "patient")
    values = pa.array([f"P{i % 37:08d}" if i % 11 else None for i in range(1000)])
    whole = tokeniser.tokenise_array(values).to_pylist()
    parts = [
        tokeniser.tokenise_array(values.slice(start, 97)).to_pylist()
        for start in range(0, 1000, 97)
    ]
    assert whole == [token for part in parts for token in part]


def test_empty_and_all_null_arrays():
    tokeniser = Tokeniser(KEY, "patient")
    assert tokeniser.tokenise_array(pa.array([], pa.string())).to_pylist() == []
    assert tokeniser.tokenise_array(pa.array([None, None], pa.string())).to_pylist() == [None, None]


def test_tokeniser_is_not_picklable_and_hides_its_key():
    tokeniser = Tokeniser(KEY, "patient")
    with pytest.raises(TypeError):
        pickle.dumps(tokeniser)
    assert SECRET.hex() not in repr(tokeniser)
