"""Keyed tokens: HKDF per domain, HMAC-SHA256, 120 bits in lower-case base32.

    domain key = HKDF-SHA256(ikm=secret, salt=None, info="pseudolab/v1/token/<domain>", 32)
    token      = base32(HMAC-SHA256(domain key, utf-8(normalised value))[:15]).lower()

The HMAC is the only per-value loop: the key's inner and outer SHA-256 states are
computed once and copied per value, and a whole batch is base32-encoded at once
(15-byte digests fall on base32's 5-byte boundaries, so each token is exactly 24
characters of the joint encoding).
"""

from __future__ import annotations

import base64
import hashlib

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from transforms.keyring import SecretKey

TOKEN_BYTES = 15
TOKEN_CHARS = 24
_BLOCK = 64  # SHA-256 block size
_BASE32 = np.frombuffer(b"abcdefghijklmnopqrstuvwxyz234567", dtype=np.uint8)
INFO_PREFIX = b"pseudolab/v1/token/"


def derive_domain_key(key: SecretKey, domain: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=INFO_PREFIX + domain.encode())
    return hkdf.derive(key.material)


def base32_lower(data: bytes) -> bytes:
    """RFC 4648 base32 in lower case of `data`, whose length is a multiple of 5 (no padding).

    Vectorised: each 5 bytes give eight 5-bit digits. The same as
    `base64.b32encode(data).lower()`, which loops in Python and cost as much as the HMACs.
    """
    if len(data) % 5:
        raise ValueError("base32 without padding needs a multiple of 5 bytes")
    b0, b1, b2, b3, b4 = np.frombuffer(data, dtype=np.uint8).reshape(-1, 5).T
    digits = np.empty((len(b0), 8), dtype=np.uint8)
    digits[:, 0] = b0 >> 3
    digits[:, 1] = ((b0 & 7) << 2) | (b1 >> 6)
    digits[:, 2] = (b1 >> 1) & 31
    digits[:, 3] = ((b1 & 1) << 4) | (b2 >> 4)
    digits[:, 4] = ((b2 & 15) << 1) | (b3 >> 7)
    digits[:, 5] = (b3 >> 2) & 31
    digits[:, 6] = ((b3 & 3) << 3) | (b4 >> 5)
    digits[:, 7] = b4 & 31
    return _BASE32.take(digits).tobytes()


class Tokeniser:
    """Tokens for one domain under one key. Holds key-derived state: not picklable."""

    __slots__ = ("_inner", "_outer", "domain", "key_id")

    def __init__(self, key: SecretKey, domain: str):
        domain_key = derive_domain_key(key, domain)
        padded = domain_key.ljust(_BLOCK, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))
        self.domain = domain
        self.key_id = key.key_id

    def __repr__(self) -> str:
        return f"Tokeniser(domain={self.domain!r}, key_id={self.key_id!r})"

    def __reduce__(self):
        raise TypeError("a Tokeniser holds key material and must not be pickled")

    def digests(self, values: list[bytes]) -> bytes:
        """The 15-byte truncated HMACs of `values`, concatenated."""
        inner_copy, outer_copy = self._inner.copy, self._outer.copy
        out = bytearray()
        extend = out.extend
        for value in values:
            hashed = inner_copy()
            hashed.update(value)
            wrapped = outer_copy()
            wrapped.update(hashed.digest())
            extend(wrapped.digest()[:TOKEN_BYTES])
        return bytes(out)

    def token(self, value: str) -> str:
        """One token, for tests and tools; the pipeline uses `tokenise_array`."""
        return base64.b32encode(self.digests([value.encode("utf-8")])).decode("ascii").lower()

    def tokenise_array(self, values: pa.Array) -> pa.Array:
        """Tokens of a string array; null stays null. Each distinct value is hashed once."""
        values = values.cast(pa.string())
        if len(values) == 0:
            return pa.array([], pa.string())
        encoded = values.dictionary_encode()
        dictionary = encoded.dictionary
        tokens = self._tokenise_distinct(dictionary)
        return pc.take(tokens, encoded.indices)

    def _tokenise_distinct(self, dictionary: pa.Array) -> pa.Array:
        """Tokens for a null-free string array, built straight into Arrow buffers."""
        count = len(dictionary)
        if count == 0:
            return pa.array([], pa.string())
        dictionary = pa.concat_arrays([dictionary])  # zero offset, compact buffers
        offsets = np.frombuffer(dictionary.buffers()[1], dtype=np.int32, count=count + 1)
        data = dictionary.buffers()[2]
        data = data.to_pybytes() if data is not None else b""
        bounds = offsets.tolist()
        values = [data[bounds[i] : bounds[i + 1]] for i in range(count)]
        text = base32_lower(self.digests(values))
        token_offsets = np.arange(0, (count + 1) * TOKEN_CHARS, TOKEN_CHARS, dtype=np.int32)
        return pa.StringArray.from_buffers(count, pa.py_buffer(token_offsets), pa.py_buffer(text))
