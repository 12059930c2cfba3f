"""The keyring: secret keys on disk, validated on load, hidden from repr and pickle.

File format (JSON, mode 0600):
    {"pseudolab_keyring": 1, "primary": ID,
     "keys": [{"id": ID, "created": ISO-8601, "secret": base64 of 32 random bytes}]}
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
import secrets
import stat
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from schemas.errors import KeyringError

SECRET_BYTES = 32
MAX_KEYRING_BYTES = 64 * 1024
_KEY_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


class SecretKey:
    """32 bytes of key material. Never printed, never pickled."""

    __slots__ = ("_material", "key_id")

    def __init__(self, key_id: str, material: bytes):
        if len(material) != SECRET_BYTES:
            raise ValueError("a pseudolab key is 32 bytes")
        self.key_id = key_id
        self._material = material

    @property
    def material(self) -> bytes:
        return self._material

    def __repr__(self) -> str:
        return f"SecretKey(id={self.key_id!r}, material=<hidden>)"

    __str__ = __repr__

    def __reduce__(self):
        raise TypeError("key material must not be pickled: load the keyring in setup()")

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, SecretKey)
            and other.key_id == self.key_id
            and secrets.compare_digest(other._material, self._material)
        )

    def __hash__(self) -> int:
        return hash(self.key_id)


KEY_STATES = ("active", "retired", "destroyed")


@dataclass(frozen=True)
class Keyring:
    """Keys by id. New runs use the primary (active); retired keys still decrypt and
    build crosswalks; destroyed keys are listed without material and refused."""

    source: str
    primary_id: str
    keys: tuple[SecretKey, ...]
    retired: frozenset[str] = frozenset()
    destroyed: frozenset[str] = frozenset()

    @property
    def primary(self) -> SecretKey:
        return self.key(self.primary_id)

    def key(self, key_id: str) -> SecretKey:
        """The key with this id; a destroyed or unknown id is refused clearly."""
        if key_id in self.destroyed:
            raise KeyringError("keyring-destroyed", path=self.source, key_id=key_id[:64])
        for key in self.keys:
            if key.key_id == key_id:
                return key
        raise KeyringError("keyring-unknown-key", path=self.source, key_id=key_id[:64])

    def __reduce__(self):
        raise TypeError("a keyring must not be pickled: pass its path and load it in setup()")


def _refuse(code: str, path: str, **fields: object) -> KeyringError:
    return KeyringError(code, path=path, **fields)


def _read_private_file(path: str) -> bytes:
    try:
        info = os.stat(path)
    except FileNotFoundError:
        raise _refuse("keyring-missing", path) from None
    except OSError as error:
        raise _refuse("keyring-invalid", path, reason=error.strerror or "unreadable") from None
    if not stat.S_ISREG(info.st_mode):
        raise _refuse("keyring-invalid", path, reason="not a regular file")
    if info.st_mode & 0o077:
        raise _refuse("keyring-permissions", path, mode=oct(stat.S_IMODE(info.st_mode)))
    if info.st_size > MAX_KEYRING_BYTES:
        raise _refuse("keyring-invalid", path, reason="larger than 64 KiB")
    try:
        with open(path, "rb") as handle:
            return handle.read(MAX_KEYRING_BYTES + 1)
    except OSError as error:
        raise _refuse("keyring-invalid", path, reason=error.strerror or "unreadable") from None


def _decode_secret(path: str, key_id: str, encoded: object) -> bytes:
    if not isinstance(encoded, str):
        raise _refuse("keyring-weak-key", path, key_id=key_id)
    try:
        material = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse("keyring-weak-key", path, key_id=key_id) from None
    if len(material) != SECRET_BYTES or len(set(material)) < 8:
        raise _refuse("keyring-weak-key", path, key_id=key_id)
    return material


def parse_keyring(data: bytes, source: str) -> Keyring:
    """Validate a keyring document. Messages never include key material."""
    try:
        document = json.loads(data.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError):
        raise _refuse("keyring-invalid", source, reason="not JSON") from None
    if not isinstance(document, dict) or document.get("pseudolab_keyring") != 1:
        raise _refuse("keyring-invalid", source, reason='missing "pseudolab_keyring": 1')
    entries = document.get("keys")
    if not isinstance(entries, list) or not entries:
        raise _refuse("keyring-invalid", source, reason="no keys")
    keys: list[SecretKey] = []
    seen: set[str] = set()
    retired: set[str] = set()
    destroyed: set[str] = set()
    for entry in entries:
        if not isinstance(entry, dict) or not isinstance(entry.get("id"), str):
            raise _refuse("keyring-invalid", source, reason="a key has no id")
        key_id = entry["id"]
        if not _KEY_ID.match(key_id):
            raise _refuse("keyring-invalid", source, reason="a key id is not a short identifier")
        if key_id in seen:
            raise _refuse("keyring-invalid", source, reason=f"key id '{key_id}' is repeated")
        seen.add(key_id)
        status = entry.get("status", "active")
        if status not in KEY_STATES:
            raise _refuse("keyring-invalid", source, reason=f"key '{key_id}' has an unknown status")
        if status == "destroyed":
            if entry.get("secret"):
                raise _refuse(
                    "keyring-invalid", source, reason=f"destroyed key '{key_id}' has a secret"
                )
            destroyed.add(key_id)
            continue
        if status == "retired":
            retired.add(key_id)
        keys.append(SecretKey(key_id, _decode_secret(source, key_id, entry.get("secret"))))
    primary = document.get("primary")
    if isinstance(primary, list):
        raise _refuse("keyring-primary", source, reason="several primary keys")
    if not isinstance(primary, str) or not primary:
        raise _refuse("keyring-primary", source, reason="no primary key")
    if primary in retired or primary in destroyed:
        raise _refuse("keyring-primary", source, reason="the primary key is not active")
    if not any(key.key_id == primary for key in keys):
        raise _refuse("keyring-primary", source, reason="the primary names none of the keys")
    return Keyring(
        source=source,
        primary_id=primary,
        keys=tuple(keys),
        retired=frozenset(retired),
        destroyed=frozenset(destroyed),
    )


ENV_PREFIX = "env:"
_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]{0,63}$")


def _read_environment(source: str) -> bytes:
    name = source[len(ENV_PREFIX) :]
    if not _ENV_NAME.match(name):
        raise _refuse("keyring-invalid", source, reason="not an environment variable name")
    value = os.environ.get(name)
    if value is None:
        raise _refuse("keyring-missing", source)
    data = value.encode("utf-8")
    if len(data) > MAX_KEYRING_BYTES:
        raise _refuse("keyring-invalid", source, reason="larger than 64 KiB")
    return data


def load_keyring(source: str | os.PathLike) -> Keyring:
    """Load and validate a keyring: a file (refused if others can read it), or
    `env:NAME`, an environment variable holding the same JSON (for schedulers)."""
    source = os.fspath(source)
    if source.startswith(ENV_PREFIX):
        return parse_keyring(_read_environment(source), source)
    return parse_keyring(_read_private_file(source), source)


@dataclass(frozen=True)
class KeyringRef:
    """Where workers find the key: a path, and the primary key id seen at preflight."""

    path: str
    key_id: str

    def load(self) -> Keyring:
        keyring = load_keyring(self.path)
        if keyring.primary_id != self.key_id:
            raise KeyringError("keyring-primary", path=self.path, reason="primary changed mid-run")
        return keyring


def new_key_id(now: datetime | None = None) -> str:
    now = now or datetime.now(timezone.utc)
    return f"k{now:%Y%m%d}-{secrets.token_hex(3)}"


def _new_entry(now: datetime) -> dict:
    return {
        "id": new_key_id(now),
        "created": now.replace(microsecond=0).isoformat(),
        "status": "active",
        "secret": base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii"),
    }


def _write_private(path: str, document: dict, *, exclusive: bool) -> None:
    """Write JSON with mode 0600: exclusively for a new file, else by atomic replacement."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    target = path if exclusive else f"{path}.{secrets.token_hex(4)}.tmp"
    try:
        descriptor = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise _refuse(
            "keyring-invalid", path, reason="file exists; refusing to overwrite"
        ) from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        json.dump(document, handle, indent=2)
        handle.write("\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.chmod(target, 0o600)
    if not exclusive:
        os.replace(target, path)


def write_new_keyring(path: str | os.PathLike) -> str:
    """Create a keyring with one fresh primary key, mode 0600. Refuse to overwrite."""
    path = os.fspath(path)
    entry = _new_entry(datetime.now(timezone.utc))
    document = {"pseudolab_keyring": 1, "primary": entry["id"], "keys": [entry]}
    _write_private(path, document, exclusive=True)
    return entry["id"]


def _edit_keyring(path: str) -> dict:
    load_keyring(path)  # validates, permissions included
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def add_primary_key(path: str | os.PathLike) -> tuple[str, str]:
    """Rotate: a fresh key becomes primary, the old primary is retired. (old id, new id)."""
    path = os.fspath(path)
    document = _edit_keyring(path)
    old = document["primary"]
    for entry in document["keys"]:
        if entry["id"] == old:
            entry["status"] = "retired"
    entry = _new_entry(datetime.now(timezone.utc))
    document["keys"].append(entry)
    document["primary"] = entry["id"]
    _write_private(path, document, exclusive=False)
    return old, entry["id"]


def destroy_key(path: str | os.PathLike, key_id: str) -> None:
    """Erase a retired key's secret for good: what only it could decrypt is lost."""
    path = os.fspath(path)
    document = _edit_keyring(path)
    if key_id == document["primary"]:
        raise _refuse("keyring-primary", path, reason="the primary key cannot be destroyed")
    for entry in document["keys"]:
        if entry["id"] == key_id:
            entry["status"] = "destroyed"
            entry.pop("secret", None)
            entry["destroyed"] = datetime.now(timezone.utc).replace(microsecond=0).isoformat()
            _write_private(path, document, exclusive=False)
            return
    raise KeyringError("keyring-unknown-key", path=path, key_id=key_id[:64])
