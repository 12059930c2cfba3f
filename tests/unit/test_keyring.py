import base64
import json
import os
import pickle

import pytest

from schemas.errors import KeyringError
from transforms.keyring import SecretKey, load_keyring, parse_keyring, write_new_keyring

SECRET = bytes(range(32))


def _write(path, document, mode=0o600):
    path.write_text(json.dumps(document))
    os.chmod(path, mode)
    return path


def _document(**changes):
    document = {
        "pseudolab_keyring": 1,
        "primary": "k1",
        "keys": [
            {
                "id": "k1",
                "created": "2026-01-01T00:00:00+00:00",
                "secret": base64.b64encode(SECRET).decode(),
            }
        ],
    }
    document.update(changes)
    return document


def test_keygen_writes_a_private_loadable_keyring(tmp_path):
    path = tmp_path / "keys" / "keyring.json"
    key_id = write_new_keyring(path)
    assert os.stat(path).st_mode & 0o777 == 0o600
    keyring = load_keyring(path)
    assert keyring.primary_id == key_id
    assert len(keyring.primary.material) == 32


def test_keygen_never_overwrites(tmp_path):
    path = tmp_path / "keyring.json"
    write_new_keyring(path)
    before = path.read_bytes()
    with pytest.raises(KeyringError):
        write_new_keyring(path)
    assert path.read_bytes() == before


def test_two_keygens_make_different_keys(tmp_path):
    first = load_keyring(tmp_path / "a.json") if write_new_keyring(tmp_path / "a.json") else None
    second = load_keyring(tmp_path / "b.json") if write_new_keyring(tmp_path / "b.json") else None
    assert first.primary.material != second.primary.material


@pytest.mark.parametrize("mode", [0o640, 0o604, 0o644, 0o666])
def test_group_or_world_readable_keyring_is_refused(tmp_path, mode):
    path = _write(tmp_path / "k.json", _document(), mode)
    with pytest.raises(KeyringError) as caught:
        load_keyring(path)
    assert caught.value.code == "keyring-permissions"
    assert caught.value.exit_code == 2


def test_missing_keyring(tmp_path):
    with pytest.raises(KeyringError) as caught:
        load_keyring(tmp_path / "absent.json")
    assert caught.value.code == "keyring-missing"


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        (
            {"keys": [{"id": "k1", "secret": base64.b64encode(b"short").decode()}]},
            "keyring-weak-key",
        ),
        (
            {"keys": [{"id": "k1", "secret": base64.b64encode(bytes(32)).decode()}]},
            "keyring-weak-key",
        ),
        ({"keys": [{"id": "k1", "secret": "not base64!"}]}, "keyring-weak-key"),
        ({"primary": None}, "keyring-primary"),
        ({"primary": ["k1", "k2"]}, "keyring-primary"),
        ({"primary": "k9"}, "keyring-primary"),
        ({"pseudolab_keyring": 2}, "keyring-invalid"),
        ({"keys": []}, "keyring-invalid"),
    ],
)
def test_invalid_keyrings_are_refused(tmp_path, changes, code):
    path = _write(tmp_path / "k.json", _document(**changes))
    with pytest.raises(KeyringError) as caught:
        load_keyring(path)
    assert caught.value.code == code


def test_repeated_key_ids_are_refused():
    entry = _document()["keys"][0]
    data = json.dumps(_document(keys=[entry, entry])).encode()
    with pytest.raises(KeyringError):
        parse_keyring(data, "k.json")


def test_errors_never_show_key_material(tmp_path):
    secret = base64.b64encode(SECRET).decode()
    for document in (_document(primary="k9"), _document(pseudolab_keyring=3)):
        path = _write(tmp_path / "k.json", document)
        with pytest.raises(KeyringError) as caught:
            load_keyring(path)
        assert secret not in str(caught.value)


def test_key_material_hidden_from_repr_and_pickle():
    key = SecretKey("k1", SECRET)
    assert SECRET.hex() not in repr(key) and str(SECRET) not in repr(key)
    assert "hidden" in repr(key)
    with pytest.raises(TypeError):
        pickle.dumps(key)
    keyring = parse_keyring(json.dumps(_document()).encode(), "k.json")
    with pytest.raises(TypeError):
        pickle.dumps(keyring)


def test_keyring_from_environment_variable(monkeypatch):
    monkeypatch.setenv("PSEUDOLAB_TEST_KEYRING", json.dumps(_document()))
    keyring = load_keyring("env:PSEUDOLAB_TEST_KEYRING")
    assert keyring.primary.material == SECRET


def test_environment_keyring_errors_name_the_variable_not_its_value(monkeypatch):
    document = _document(primary="k9")
    monkeypatch.setenv("PSEUDOLAB_TEST_KEYRING", json.dumps(document))
    with pytest.raises(KeyringError) as caught:
        load_keyring("env:PSEUDOLAB_TEST_KEYRING")
    assert "env:PSEUDOLAB_TEST_KEYRING" in str(caught.value)
    assert document["keys"][0]["secret"] not in str(caught.value)
    monkeypatch.delenv("PSEUDOLAB_TEST_KEYRING")
    with pytest.raises(KeyringError) as caught:
        load_keyring("env:PSEUDOLAB_TEST_KEYRING")
    assert caught.value.code == "keyring-missing"
    with pytest.raises(KeyringError):
        load_keyring("env:not a name")


def test_rotation_retires_the_old_primary_and_keeps_it_usable(tmp_path):
    from transforms.keyring import add_primary_key

    path = tmp_path / "k.json"
    first = write_new_keyring(path)
    old, new = add_primary_key(path)
    assert old == first and new != first
    assert os.stat(path).st_mode & 0o777 == 0o600
    keyring = load_keyring(path)
    assert keyring.primary_id == new
    assert keyring.retired == {first}
    assert keyring.key(first).material != keyring.primary.material


def test_destroyed_key_is_refused_with_a_clear_message(tmp_path):
    from transforms.keyring import add_primary_key, destroy_key

    path = tmp_path / "k.json"
    first = write_new_keyring(path)
    add_primary_key(path)
    secret = json.loads(path.read_text())["keys"][0]["secret"]
    destroy_key(path, first)
    assert secret not in path.read_text()
    keyring = load_keyring(path)
    with pytest.raises(KeyringError) as caught:
        keyring.key(first)
    assert caught.value.code == "keyring-destroyed"
    with pytest.raises(KeyringError):
        destroy_key(path, keyring.primary_id)  # never the primary


def test_primary_must_be_active():
    document = _document()
    document["keys"][0]["status"] = "retired"
    with pytest.raises(KeyringError) as caught:
        parse_keyring(json.dumps(document).encode(), "k.json")
    assert caught.value.code == "keyring-primary"
