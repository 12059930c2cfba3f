"""Format-preserving encryption: FF1 (NIST SP 800-38G Rev. 1) on AES, and NIR helpers.

FF1 is a ten-round Feistel cipher over strings of numerals in base `radix`; its round
function is AES CBC-MAC (the PRF of the standard) followed by AES in counter fashion
when more than 16 bytes are needed. Keys are 16, 24 or 32 bytes (AES-128/192/256).

Numerals as text
    radix 2..36     "0123456789abcdefghijklmnopqrstuvwxyz"[:radix] (lower case only;
                    the alphabet of the NIST sample vectors)
    radix 37..62    "0-9a-zA-Z"[:radix], i.e. the above followed by "A".."Z"
    radix 63..65536 numeral i is the character chr(i)
`FF1.encrypt_numerals` takes and returns lists of ints for any radix.

Limits (SP 800-38G Rev. 1, section 5.2): 2 <= radix <= 2**16; the length n of the
input satisfies radix**n >= 1,000,000 (`min_length(radix)`) and n <= 2**32; the tweak
is bytes, at most `MAX_TWEAK_BYTES` (64 KiB, a pseudolab choice). Errors are
ValueError or TypeError and never carry the numerals, the tweak or the key.

FF1 is not authenticated: decrypting under the wrong key or tweak returns another
string of the same shape, silently. Record the key id beside every output.

NIR helpers (`fpe_nir`, `fpe_nir_decrypt`): a valid 13-character NIR body maps to a
15-digit NIR-shaped value: marker digit + 12 encrypted digits + mod-97 control key.

- Marker: the sex digit 1 or 2 is replaced by `markers[0]` or `markers[1]`, by default
  "7" and "8", the first digits of temporary (not yet certified) numbers, so that a
  synthetic value is never read as a certified NIR. The sex stays visible.
- The 12 digits after the sex digit are FF1-encrypted (radix 10) under the tweak
  `tweak + b"|nir-sex=" + sex digit`, so two people who differ only by sex do not
  share the encrypted digits.
- Corsica: the département field "2A"/"2B" is not digits. It becomes "00" (a code no
  département uses) and the commune code carries the letter: 2A + commune ccc maps to
  00 + ccc, 2B + commune ccc to 00 + (ccc + 500). Corsican commune codes are below 400,
  so a Corsican body with a commune code of 500 or more is refused.
- The control key is `transforms.nir.nir_key` of the synthetic 13-digit body.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from transforms.keyring import SecretKey
from transforms.nir import BODY_PATTERN, nir_key

ALPHABET_36 = "0123456789abcdefghijklmnopqrstuvwxyz"
ALPHABET_62 = ALPHABET_36 + "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
MIN_RADIX = 2
MAX_RADIX = 1 << 16
MIN_DOMAIN = 1_000_000
MAX_LENGTH = 1 << 32
MAX_TWEAK_BYTES = 1 << 16
KEY_SIZES = (16, 24, 32)
ROUNDS = 10
FPE_INFO_PREFIX = b"pseudolab/v1/fpe/"

NIR_MARKERS = ("7", "8")
_NIR_BODY = re.compile(BODY_PATTERN)
_NIR_SEX_TWEAK = b"|nir-sex="

_CHUNK = 64  # numerals per chunk when converting long inputs to and from ints
_FAST_TEXT = 600  # below Python's int <-> str digit limit (640 at the lowest setting)
_LAYOUT_CACHE = 256


def derive_fpe_key(key: SecretKey, domain: str) -> bytes:
    """An AES-256 key for FF1 in one domain: HKDF-SHA256, info `pseudolab/v1/fpe/<domain>`."""
    hkdf = HKDF(
        algorithm=hashes.SHA256(), length=32, salt=None, info=FPE_INFO_PREFIX + domain.encode()
    )
    return hkdf.derive(key.material)


def min_length(radix: int) -> int:
    """The shortest input FF1 accepts in base `radix`: radix**n >= 1,000,000 and n >= 2."""
    _check_radix(radix)
    length = 2
    while radix**length < MIN_DOMAIN:
        length += 1
    return length


def alphabet(radix: int) -> str | None:
    """The characters of numerals 0..radix-1, or None when numeral i is chr(i)."""
    _check_radix(radix)
    return ALPHABET_62[:radix] if radix <= len(ALPHABET_62) else None


def _check_radix(radix: object) -> None:
    if isinstance(radix, bool) or not isinstance(radix, int):
        raise TypeError("FF1 radix must be an int")
    if not MIN_RADIX <= radix <= MAX_RADIX:
        raise ValueError(f"FF1 radix must be between {MIN_RADIX} and {MAX_RADIX}")


def _check_key(key: object) -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)):
        raise TypeError("FF1 key must be bytes")
    key = bytes(key)
    if len(key) not in KEY_SIZES:
        raise ValueError("FF1 key must be 16, 24 or 32 bytes (AES-128, AES-192, AES-256)")
    return key


def _check_tweak(tweak: object) -> bytes:
    if not isinstance(tweak, (bytes, bytearray, memoryview)):
        raise TypeError("FF1 tweak must be bytes")
    tweak = bytes(tweak)
    if len(tweak) > MAX_TWEAK_BYTES:
        raise ValueError(f"FF1 tweak is longer than {MAX_TWEAK_BYTES} bytes")
    return tweak


class _Layout:
    """Everything FF1 derives from (key, radix, length, tweak), computed once."""

    __slots__ = ("b", "d", "extra", "head", "mod_u", "mod_v", "n", "state", "state_int", "u", "v")

    def __init__(self, key: bytes, radix: int, n: int, tweak: bytes):
        self.n = n
        self.u = u = n // 2
        self.v = v = n - u
        self.mod_u = radix**u
        self.mod_v = radix**v
        # b = ceil(ceil(v * log2(radix)) / 8), exactly: bit length of radix**v - 1.
        self.b = b = ((self.mod_v - 1).bit_length() + 7) // 8
        self.d = d = 4 * ((b + 3) // 4) + 4
        self.extra = (d + 15) // 16 - 1
        t = len(tweak)
        p = (
            bytes((1, 2, 1))
            + radix.to_bytes(3, "big")
            + bytes((10, u % 256))
            + n.to_bytes(4, "big")
            + t.to_bytes(4, "big")
        )
        constant = tweak + bytes((-t - b - 1) % 16)
        cut = len(constant) // 16 * 16
        # CBC-MAC over P and the blocks of Q that do not depend on the round: the
        # chaining value every round continues from.
        cbc = Cipher(algorithms.AES(key), modes.CBC(bytes(16))).encryptor()
        self.state = cbc.update(p + constant[:cut])[-16:]
        self.state_int = int.from_bytes(self.state, "big")
        self.head = constant[cut:]


class FF1:
    """FF1 under one AES key and radix. Holds key material: never printed, never pickled.

    Not safe to share between threads (one AES context is reused); one per DoFn is fine.
    """

    __slots__ = ("_alphabet", "_ecb", "_index", "_key", "_layouts", "_minlen", "radix")

    def __init__(self, key: bytes, radix: int):
        _check_radix(radix)
        self._key = _check_key(key)
        self.radix = radix
        self._ecb = Cipher(algorithms.AES(self._key), modes.ECB()).encryptor()
        self._alphabet = alphabet(radix)
        self._index = (
            {ch: i for i, ch in enumerate(self._alphabet)} if self._alphabet is not None else None
        )
        self._minlen = min_length(radix)
        self._layouts: dict[tuple[int, bytes], _Layout] = {}

    def __repr__(self) -> str:
        return f"FF1(radix={self.radix}, key=<hidden>)"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("an FF1 cipher holds key material and must not be pickled")

    # -- public API -------------------------------------------------------------------

    def encrypt(self, numerals: str, tweak: bytes = b"") -> str:
        return self._crypt_text(numerals, tweak, decrypt=False)

    def decrypt(self, numerals: str, tweak: bytes = b"") -> str:
        return self._crypt_text(numerals, tweak, decrypt=True)

    def encrypt_numerals(self, numerals: Sequence[int], tweak: bytes = b"") -> list[int]:
        return self._crypt_list(numerals, tweak, decrypt=False)

    def decrypt_numerals(self, numerals: Sequence[int], tweak: bytes = b"") -> list[int]:
        return self._crypt_list(numerals, tweak, decrypt=True)

    def encrypt_many(self, values: Sequence[str | None], tweak: bytes = b"") -> list[str | None]:
        """`encrypt` of each value (None stays None), vectorised across values."""
        return self._crypt_many(values, tweak, decrypt=False)

    def decrypt_many(self, values: Sequence[str | None], tweak: bytes = b"") -> list[str | None]:
        return self._crypt_many(values, tweak, decrypt=True)

    # -- the cipher -------------------------------------------------------------------

    def _layout(self, n: int, tweak: bytes) -> _Layout:
        if not self._minlen <= n <= MAX_LENGTH:
            raise ValueError(
                f"FF1 input has {n} numerals; radix {self.radix} needs "
                f"{self._minlen} to {MAX_LENGTH}"
            )
        cache_key = (n, tweak)
        layout = self._layouts.get(cache_key)
        if layout is None:
            if len(self._layouts) >= _LAYOUT_CACHE:
                self._layouts.clear()
            layout = self._layouts[cache_key] = _Layout(self._key, self.radix, n, tweak)
        return layout

    def _prf_y(self, layout: _Layout, i: int, x: int) -> int:
        """Steps 6.i-6.iv: y = NUM(S) for round i, with NUM_radix of the other half = x."""
        tail = layout.head + bytes((i,)) + x.to_bytes(layout.b, "big")
        if len(tail) == 16:
            block = (layout.state_int ^ int.from_bytes(tail, "big")).to_bytes(16, "big")
            r = self._ecb.update(block)
        else:
            cbc = Cipher(algorithms.AES(self._key), modes.CBC(layout.state)).encryptor()
            r = cbc.update(tail)[-16:]
        if layout.extra:
            r_int = int.from_bytes(r, "big")
            r += self._ecb.update(
                b"".join((r_int ^ j).to_bytes(16, "big") for j in range(1, layout.extra + 1))
            )
        return int.from_bytes(r[: layout.d], "big")

    def _rounds(self, layout: _Layout, a: int, b: int, decrypt: bool) -> tuple[int, int]:
        """FF1 on NUM_radix(A), NUM_radix(B); returns the two halves, u and v numerals."""
        mod_u, mod_v = layout.mod_u, layout.mod_v
        if not decrypt:
            for i in range(ROUNDS):
                c = (a + self._prf_y(layout, i, b)) % (mod_v if i & 1 else mod_u)
                a, b = b, c
        else:
            for i in reversed(range(ROUNDS)):
                c = (b - self._prf_y(layout, i, a)) % (mod_v if i & 1 else mod_u)
                a, b = c, a
        return a, b

    # -- numerals <-> integers --------------------------------------------------------

    def _digits_of_text(self, numerals: str) -> list[int]:
        if self._index is not None:
            index = self._index
            try:
                return [index[ch] for ch in numerals]
            except KeyError:
                raise self._alphabet_error() from None
        digits = [ord(ch) for ch in numerals]
        if digits and max(digits) >= self.radix:
            raise self._alphabet_error()
        return digits

    def _text_of_digits(self, digits: list[int]) -> str:
        if self._alphabet is not None:
            table = self._alphabet
            return "".join([table[d] for d in digits])
        return "".join(map(chr, digits))

    def _alphabet_error(self) -> ValueError:
        if self._alphabet is not None:
            return ValueError(f"FF1 input has a character outside the radix-{self.radix} alphabet")
        return ValueError(f"FF1 input has a numeral of radix {self.radix} or more")

    def _num(self, digits: Sequence[int]) -> int:
        radix, value, count = self.radix, 0, len(digits)
        step = radix**_CHUNK
        for start in range(0, count, _CHUNK):
            chunk = digits[start : start + _CHUNK]
            part = 0
            for d in chunk:
                part = part * radix + d
            value = value * (step if len(chunk) == _CHUNK else radix ** len(chunk)) + part
        return value

    def _str(self, value: int, length: int) -> list[int]:
        radix = self.radix
        step = radix**_CHUNK
        chunks: list[list[int]] = []  # least significant first
        remaining = length
        while remaining > 0:
            size = min(_CHUNK, remaining)
            value, part = divmod(value, step if size == _CHUNK else radix**size)
            chunk = [0] * size
            for k in range(size - 1, -1, -1):
                part, chunk[k] = divmod(part, radix)
            chunks.append(chunk)
            remaining -= size
        return [d for chunk in reversed(chunks) for d in chunk]

    def _crypt_text(self, numerals: str, tweak: bytes, decrypt: bool) -> str:
        if not isinstance(numerals, str):
            raise TypeError("FF1 numerals must be a str (use encrypt_numerals for ints)")
        tweak = _check_tweak(tweak)
        n = len(numerals)
        layout = self._layout(n, tweak)
        if self.radix == 10 and n <= _FAST_TEXT:
            if not (numerals.isascii() and numerals.isdigit()):
                raise self._alphabet_error()
            a, b = self._rounds(
                layout, int(numerals[: layout.u]), int(numerals[layout.u :]), decrypt
            )
            return f"{a:0{layout.u}d}{b:0{layout.v}d}"
        digits = self._digits_of_text(numerals)
        return self._text_of_digits(self._crypt_digits(layout, digits, decrypt))

    def _crypt_list(self, numerals: Sequence[int], tweak: bytes, decrypt: bool) -> list[int]:
        tweak = _check_tweak(tweak)
        digits = list(numerals)
        layout = self._layout(len(digits), tweak)
        for d in digits:
            if isinstance(d, bool) or not isinstance(d, int) or not 0 <= d < self.radix:
                raise ValueError(f"FF1 numerals must be ints from 0 to {self.radix - 1}")
        return self._crypt_digits(layout, digits, decrypt)

    def _crypt_digits(self, layout: _Layout, digits: list[int], decrypt: bool) -> list[int]:
        u = layout.u
        a, b = self._rounds(layout, self._num(digits[:u]), self._num(digits[u:]), decrypt)
        return self._str(a, u) + self._str(b, layout.v)

    # -- many values at once ----------------------------------------------------------

    def _crypt_many(
        self, values: Sequence[str | None], tweak: bytes, decrypt: bool
    ) -> list[str | None]:
        tweak = _check_tweak(tweak)
        out: list[str | None] = [None] * len(values)
        groups: dict[int, list[int]] = {}
        for position, value in enumerate(values):
            if value is None:
                continue
            if not isinstance(value, str):
                raise TypeError("FF1 numerals must be str or None")
            groups.setdefault(len(value), []).append(position)
        for n, positions in groups.items():
            layout = self._layout(n, tweak)
            group = [values[p] for p in positions]
            if layout.mod_v <= 1 << 32 and self._alphabet is not None:
                results = self._crypt_group(layout, group, decrypt)
            else:
                results = [self._crypt_text(v, tweak, decrypt) for v in group]
            for p, result in zip(positions, results, strict=True):
                out[p] = result
        return out

    def _crypt_group(self, layout: _Layout, values: list[str], decrypt: bool) -> list[str]:
        """FF1 on equal-length values, each round one AES call for the whole group.

        Valid when radix**v <= 2**32: then b <= 4, d = 8 and Q's variable part is its
        last block, so every half and every y fits in 64-bit integers.
        """
        count, n, u, v, b = len(values), layout.n, layout.u, layout.v, layout.b
        radix = self.radix
        try:
            raw = "".join(values).encode("ascii")
        except UnicodeEncodeError:
            raise self._alphabet_error() from None
        lookup = np.full(256, 255, dtype=np.uint8)
        lookup[np.frombuffer(self._alphabet.encode("ascii"), np.uint8)] = np.arange(
            radix, dtype=np.uint8
        )
        digits = lookup[np.frombuffer(raw, np.uint8)].reshape(count, n)
        if (digits == 255).any():
            raise self._alphabet_error()
        digits = digits.astype(np.uint64)
        powers = np.array([radix**k for k in range(v - 1, -1, -1)], dtype=np.uint64)
        a = digits[:, :u] @ powers[v - u :]
        bb = digits[:, u:] @ powers
        mod_u, mod_v = np.uint64(layout.mod_u), np.uint64(layout.mod_v)
        state = np.frombuffer(layout.state, np.uint8)
        blocks = np.empty((count, 16), np.uint8)
        for i in reversed(range(ROUNDS)) if decrypt else range(ROUNDS):
            x = a if decrypt else bb
            template = state ^ np.frombuffer(layout.head + bytes((i,)) + bytes(b), np.uint8)
            blocks[:] = template
            x_bytes = x.astype(">u4").view(np.uint8).reshape(count, 4)[:, 4 - b :]
            blocks[:, 16 - b :] ^= x_bytes
            r = np.frombuffer(self._ecb.update(blocks.tobytes()), dtype=">u8").reshape(count, 2)
            modulus = mod_v if i & 1 else mod_u
            y = r[:, 0].astype(np.uint64) % modulus
            if decrypt:
                a, bb = (bb + modulus - y) % modulus, a
            else:
                a, bb = bb, (a + y) % modulus
        out_digits = np.concatenate(
            [
                (a[:, None] // powers[v - u :]) % np.uint64(radix),
                (bb[:, None] // powers) % np.uint64(radix),
            ],
            axis=1,
        )
        table = np.frombuffer(self._alphabet.encode("ascii"), np.uint8)
        text = table[out_digits.astype(np.intp)].tobytes().decode("ascii")
        return [text[k * n : (k + 1) * n] for k in range(count)]


def ff1_encrypt(key: bytes, tweak: bytes, radix: int, numerals: str) -> str:
    """FF1.Encrypt(K, T, X) of SP 800-38G; see the module notes for the alphabet."""
    return FF1(key, radix).encrypt(numerals, tweak)


def ff1_decrypt(key: bytes, tweak: bytes, radix: int, numerals: str) -> str:
    """FF1.Decrypt(K, T, Y) of SP 800-38G; see the module notes for the alphabet."""
    return FF1(key, radix).decrypt(numerals, tweak)


def fpe_digits(key: bytes, tweak: bytes, value: str, decrypt: bool = False) -> str:
    """FF1 in radix 10: a string of ASCII digits (6 or more) to one of the same length."""
    cipher = FF1(key, 10)
    return cipher.decrypt(value, tweak) if decrypt else cipher.encrypt(value, tweak)


# -- NIR ------------------------------------------------------------------------------


def _check_markers(markers: tuple[str, str]) -> tuple[str, str]:
    if (
        not isinstance(markers, (tuple, list))
        or len(markers) != 2
        or not all(isinstance(m, str) and len(m) == 1 and m in "0123456789" for m in markers)
        or markers[0] == markers[1]
        or set(markers) & {"1", "2"}
    ):
        raise ValueError("NIR markers must be two different digits, neither 1 nor 2")
    return (markers[0], markers[1])


def _sex_tweak(tweak: bytes, sex: str) -> bytes:
    return _check_tweak(tweak) + _NIR_SEX_TWEAK + sex.encode("ascii")


def _nir_tail_digits(body: object) -> tuple[str, str]:
    """(sex digit, the 12 digits to encrypt) of a valid body; ValueError otherwise."""
    if not (
        isinstance(body, str) and len(body) == 13 and body.isascii() and _NIR_BODY.fullmatch(body)
    ):
        raise ValueError("fpe_nir needs a valid 13-character NIR body")
    departement, commune = body[5:7], body[7:10]
    if departement in ("2A", "2B"):
        if int(commune) >= 500:
            raise ValueError("a Corsican NIR body with a commune code of 500 or more is refused")
        if departement == "2B":
            commune = f"{int(commune) + 500:03d}"
        departement = "00"
    return body[0], body[1:5] + departement + commune + body[10:]


def _nir_body_of_tail(sex: str, tail: str) -> str:
    departement, commune = tail[4:6], tail[6:9]
    if departement == "00":
        number = int(commune)
        departement, commune = ("2B", f"{number - 500:03d}") if number >= 500 else ("2A", commune)
    return sex + tail[:4] + departement + commune + tail[9:]


def _with_key(body: str) -> str:
    return f"{body}{nir_key(body):02d}"


def fpe_nir(key: bytes, tweak: bytes, body13: str, markers: tuple[str, str] = NIR_MARKERS) -> str:
    """A valid NIR body to a 15-digit synthetic NIR (marker, 12 FF1 digits, control key)."""
    markers = _check_markers(markers)
    sex, tail = _nir_tail_digits(body13)
    encrypted = FF1(key, 10).encrypt(tail, _sex_tweak(tweak, sex))
    return _with_key(markers[int(sex) - 1] + encrypted)


def _synthetic_parts(value: object, markers: tuple[str, str]) -> tuple[str, str]:
    if not (isinstance(value, str) and len(value) == 15 and value.isascii() and value.isdigit()):
        raise ValueError("a synthetic NIR has 15 digits")
    body = value[:13]
    if int(value[13:]) != nir_key(body):
        raise ValueError("the control key of the synthetic NIR does not match")
    if body[0] not in markers:
        raise ValueError("the synthetic NIR does not start with a marker digit")
    return str(markers.index(body[0]) + 1), body[1:]


def fpe_nir_decrypt(
    key: bytes, tweak: bytes, value15: str, markers: tuple[str, str] = NIR_MARKERS
) -> str:
    """The NIR body behind a synthetic NIR made by `fpe_nir` with the same key and tweak.

    FF1 is not authenticated: the wrong key or tweak gives a wrong body, not an error.
    """
    markers = _check_markers(markers)
    sex, encrypted = _synthetic_parts(value15, markers)
    return _nir_body_of_tail(sex, FF1(key, 10).decrypt(encrypted, _sex_tweak(tweak, sex)))


def fpe_nir_many(
    key: bytes,
    tweak: bytes,
    bodies: Sequence[str | None],
    markers: tuple[str, str] = NIR_MARKERS,
) -> list[str | None]:
    """`fpe_nir` of each body (None stays None), vectorised."""
    markers = _check_markers(markers)
    cipher = FF1(key, 10)
    out: list[str | None] = [None] * len(bodies)
    by_sex: dict[str, tuple[list[int], list[str]]] = {"1": ([], []), "2": ([], [])}
    for position, body in enumerate(bodies):
        if body is not None:
            sex, tail = _nir_tail_digits(body)
            by_sex[sex][0].append(position)
            by_sex[sex][1].append(tail)
    for sex, (positions, tails) in by_sex.items():
        marker = markers[int(sex) - 1]
        encrypted = cipher.encrypt_many(tails, _sex_tweak(tweak, sex))
        for position, digits in zip(positions, encrypted, strict=True):
            out[position] = _with_key(marker + digits)
    return out


def fpe_nir_decrypt_many(
    key: bytes,
    tweak: bytes,
    values: Sequence[str | None],
    markers: tuple[str, str] = NIR_MARKERS,
) -> list[str | None]:
    """`fpe_nir_decrypt` of each value (None stays None), vectorised."""
    markers = _check_markers(markers)
    cipher = FF1(key, 10)
    out: list[str | None] = [None] * len(values)
    by_sex: dict[str, tuple[list[int], list[str]]] = {"1": ([], []), "2": ([], [])}
    for position, value in enumerate(values):
        if value is not None:
            sex, encrypted = _synthetic_parts(value, markers)
            by_sex[sex][0].append(position)
            by_sex[sex][1].append(encrypted)
    for sex, (positions, encrypted) in by_sex.items():
        tails = cipher.decrypt_many(encrypted, _sex_tweak(tweak, sex))
        for position, tail in zip(positions, tails, strict=True):
            out[position] = _nir_body_of_tail(sex, tail)
    return out
