"""Deterministic, reversible tokens: AES-SIV (RFC 5297) under a key derived per domain.

    siv key = HKDF-SHA256(ikm=secret, salt=None, info="pseudolab/v1/siv/<domain>", 64 bytes)
    AD      = "pseudolab/v1/siv" || lp(key id) || lp(domain) || lp(column)
              (one S2V component; lp(s) = 2-byte big-endian length of UTF-8 s, then s)
    token   = "v1." + key id + "." + base64url(SIV || ciphertext), without "=" padding
    (AES-SIV as in RFC 5297 with a 512-bit key, i.e. AES-256 for S2V and for CTR)

The associated data binds a token to its column and domain (a token moved to another
column does not decrypt) and authenticates the key id written in the token. The length
prefixes keep fields apart: ("a|b", "c") and ("a", "b|c") cannot collide.
Same value, key, domain and column: same token. The token is 16 bytes longer than the
UTF-8 value before base64: about 22 + 4/3 x the UTF-8 length characters after the prefix.

Key ids may contain dots, so a token splits at its first and its last dot. Use
`token_key_id` to choose the key from the keyring before decrypting (key rotation).
Errors name the key id, domain and column of the cipher, never the value or the token.
"""

from __future__ import annotations

import base64
import binascii

import pyarrow as pa
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESSIV
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from transforms.distinct import each, map_distinct
from transforms.keyring import SecretKey

VERSION = "v1"
SIV_KEY_BYTES = 64  # AES-256-SIV: a 256-bit MAC key and a 256-bit CTR key
SIV_TAG_BYTES = 16
INFO_PREFIX = b"pseudolab/v1/siv/"
AD_LABEL = b"pseudolab/v1/siv"


class SivTokenError(ValueError):
    """A token that is malformed, made by another key, or does not authenticate."""


def derive_siv_key(key: SecretKey, domain: str) -> bytes:
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=SIV_KEY_BYTES,
        salt=None,
        info=INFO_PREFIX + domain.encode("utf-8"),
    )
    return hkdf.derive(key.material)


def associated_data(key_id: str, domain: str, column: str) -> bytes:
    """The one associated-data component that binds a token to its key id, domain and column."""
    out = bytearray(AD_LABEL)
    for field in (key_id, domain, column):
        data = field.encode("utf-8")
        if len(data) > 0xFFFF:
            raise ValueError("a key id, domain or column name is longer than 65535 bytes")
        out += len(data).to_bytes(2, "big") + data
    return bytes(out)


def _split(token: object) -> tuple[str, str, str]:
    """(version, key id, payload) of a token's text, or SivTokenError."""
    if not isinstance(token, str):
        raise SivTokenError("a token is text")
    version, dot, rest = token.partition(".")
    key_id, dot2, payload = rest.rpartition(".")
    if not (dot and dot2 and key_id and payload):
        raise SivTokenError("not a pseudolab token: expected 'v1.<key id>.<payload>'")
    if version != VERSION:
        raise SivTokenError(f"not a {VERSION} token")
    return version, key_id, payload


def token_key_id(token: str) -> str:
    """The key id a token names (unauthenticated until it decrypts under that key)."""
    return _split(token)[1]


def _encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _decode(payload: str) -> bytes:
    try:
        raw = base64.b64decode(payload + "=" * (-len(payload) % 4), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise SivTokenError("the token payload is not base64url") from None
    if _encode(raw) != payload:  # one token, one spelling
        raise SivTokenError("the token payload is not canonical base64url")
    if len(raw) < SIV_TAG_BYTES:
        raise SivTokenError("the token payload is too short")
    return raw


class SivCipher:
    """Reversible tokens for one column of one domain under one key.

    Holds key-derived state: hidden from repr, never pickled.
    """

    __slots__ = ("_ad", "_aead", "_prefix", "column", "domain", "key_id")

    def __init__(self, key: SecretKey, domain: str, column: str):
        if not isinstance(key, SecretKey):
            raise TypeError("SivCipher needs a SecretKey")
        if not isinstance(domain, str) or not domain:
            raise ValueError("SivCipher needs a domain name")
        if not isinstance(column, str) or not column:
            raise ValueError("SivCipher needs a column name")
        if not isinstance(key.key_id, str) or not key.key_id:
            raise ValueError("SivCipher needs a key with an id")
        self._aead = AESSIV(derive_siv_key(key, domain))
        self._ad = [associated_data(key.key_id, domain, column)]
        self._prefix = f"{VERSION}.{key.key_id}."
        self.key_id = key.key_id
        self.domain = domain
        self.column = column

    def __repr__(self) -> str:
        return (
            f"SivCipher(domain={self.domain!r}, column={self.column!r}, "
            f"key_id={self.key_id!r}, key=<hidden>)"
        )

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("a SivCipher holds key material and must not be pickled")

    def _where(self) -> str:
        return f"key '{self.key_id}', domain '{self.domain}', column '{self.column}'"

    def _seal(self, value: str) -> str:
        try:
            data = value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError(f"a value is not valid Unicode text ({self._where()})") from None
        return self._prefix + _encode(self._aead.encrypt(data, self._ad))

    def encrypt(self, value: str) -> str:
        if not isinstance(value, str):
            raise TypeError("SivCipher encrypts text")
        return self._seal(value)

    def decrypt(self, token: str) -> str:
        _, key_id, payload = _split(token)
        if key_id != self.key_id:
            # The token's key id is not echoed: a mangled token may hold anything.
            raise SivTokenError(f"the token was made by another key than {self._where()}")
        raw = _decode(payload)
        try:
            data = self._aead.decrypt(raw, self._ad)
        except InvalidTag:
            raise SivTokenError(
                f"the token does not authenticate under {self._where()}: "
                "another key, domain or column made it, or it was altered"
            ) from None
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError:  # pragma: no cover - only if the key itself is misused
            raise SivTokenError(f"the token does not hold text ({self._where()})") from None

    def encrypt_array(self, values: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Tokens of a string array; null stays null. Each distinct value is encrypted once."""
        return map_distinct(values, each(self._seal))

    def decrypt_array(self, tokens: pa.Array | pa.ChunkedArray) -> pa.Array:
        """Values behind a token array; null stays null. Any bad token raises SivTokenError."""
        return map_distinct(tokens, each(self.decrypt))
