import base64
import dataclasses
import json

import pyarrow as pa
import pytest

from schemas.model import Drop
from tests.unit.policies import small_policy
from transforms.keyring import SecretKey, parse_keyring
from transforms.policy_applier import PolicyApplier, output_schema
from transforms.tokeniser import Tokeniser

SECRET = bytes(range(32))
KEYRING = parse_keyring(
    json.dumps(
        {
            "pseudolab_keyring": 1,
            "primary": "k1",
            "keys": [{"id": "k1", "secret": base64.b64encode(SECRET).decode()}],
        }
    ).encode(),
    "test",
)

ROWS = {
    "ipp": ["P1", "P2", "P3", "P4", "P5"],
    "nir": ["2 84 05 88 321 025 32", "2 84 05 88 321 025 31", None, "2840588321025", "x"],
    "nom": ["DUPONT", "MARTIN", "LE GALL", "N'DIAYE", "CANARYNAME"],
    "naissance": ["17/05/1984", "29/02/2000", "31/02/2001", "01/01/1930", "01/01/2030"],
    "commune": ["56260", "2A004", "97209", "20123", None],
    "prelevement": [
        "01/03/2021 08:12",
        "01/03/2021 08:12",
        "01/03/2021 08:12",
        "28/02/2021 10:00",
        "01/03/2021 08:12",
    ],
    "valeur": ["5,4", "0.5", None, "7", "8"],
}


def _batch(rows=ROWS):
    return pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in rows.items()})


def test_output_schema_follows_the_policy_order_and_types():
    schema = output_schema(small_policy())
    assert schema.names == list(small_policy().outputs)
    assert schema.field("valeur").type == pa.float64()
    assert schema.field("nir_invalide").type == pa.bool_()


def test_applies_every_rule_and_rejects_bad_rows():
    applied = PolicyApplier(small_policy(), KEYRING).apply(_batch())
    data = applied.data.to_pydict()
    patient = Tokeniser(SecretKey("k1", SECRET), "patient")
    # Row 3 has an impossible birth date, row 5 a birth after sampling.
    assert data["patient_token"] == [patient.token("P1"), patient.token("P2"), patient.token("P4")]
    assert data["nir_token"] == [
        patient.token("2840588321025"),
        None,
        patient.token("2840588321025"),
    ]
    assert data["nir_invalide"] == [False, True, False]
    assert data["classe_age"] == ["35-39", "20-24", "90+"]
    assert data["departement"] == ["56", "2A", None]
    assert data["mois"] == ["2021-03", "2021-03", "2021-02"]
    assert data["valeur"] == [5.4, 0.5, 7.0]
    assert "nom" not in data
    assert applied.rejected_index.to_pylist() == [2, 4]
    assert applied.rejected_reason.to_pylist() == ["invalid-date", "birth-after-reference"]
    assert applied.rejected_column.to_pylist() == ["naissance", "naissance"]
    assert applied.flags == {("invalid-nir", "nir"): 1, ("invalid-insee-code", "commune"): 1}


def test_read_columns_are_those_not_dropped_and_age_band_references():
    policy = small_policy()
    assert policy.read_columns == ("ipp", "nir", "naissance", "commune", "prelevement", "valeur")
    rules = tuple(
        rule if rule.name != "prelevement" else dataclasses.replace(rule, action=Drop())
        for rule in policy.columns
    )
    outputs = tuple(name for name in policy.outputs if name != "mois")
    dropped = dataclasses.replace(policy, columns=rules, outputs=outputs)
    assert "prelevement" in dropped.read_columns  # the age band is computed at it
    assert "nom" not in dropped.read_columns


def test_applier_needs_only_the_read_columns():
    batch = _batch()
    read = batch.select(list(small_policy().read_columns))
    whole = PolicyApplier(small_policy(), KEYRING).apply(batch)
    assert PolicyApplier(small_policy(), KEYRING).apply(read).data.equals(whole.data)


def test_policy_can_reject_invalid_nir_rows():
    applied = PolicyApplier(small_policy(on_invalid="reject"), KEYRING).apply(_batch())
    assert applied.data.num_rows == 2
    assert applied.rejected_index.to_pylist() == [1, 2, 4]
    # The first failing column in policy order names the reason.
    assert applied.rejected_reason.to_pylist() == ["invalid-nir", "invalid-date", "invalid-nir"]


def test_results_do_not_depend_on_batch_boundaries():
    applier = PolicyApplier(small_policy(), KEYRING)
    whole = applier.apply(_batch()).data
    batch = _batch()
    parts = [applier.apply(batch.slice(i, 2)).data for i in range(0, 5, 2)]
    assert pa.Table.from_batches(parts).equals(pa.Table.from_batches([whole]))


def test_empty_batch():
    empty = {k: [] for k in ROWS}
    applied = PolicyApplier(small_policy(), KEYRING).apply(_batch(empty))
    assert applied.data.num_rows == 0 and len(applied.rejected_index) == 0


def test_applier_refuses_pickling():
    import pickle

    with pytest.raises(TypeError):
        pickle.dumps(PolicyApplier(small_policy(), KEYRING))


def test_encrypt_fpe_and_recipient_in_one_policy():
    from dataclasses import replace

    from schemas.model import ColumnRule, Encrypt, Fpe
    from transforms.siv import SivCipher

    base = small_policy()
    rules = (
        ColumnRule("ipp", "string", Encrypt("patient_token", "exact", "patient"), 2),
        ColumnRule("nir", "string", Fpe("nir_token", "nir", "patient", "null", "nir_invalide"), 3),
        *base.columns[2:],
    )
    policy = replace(base, columns=rules)
    data = PolicyApplier(policy, KEYRING).apply(_batch()).data.to_pydict()
    cipher = SivCipher(SecretKey("k1", SECRET), "patient", "ipp")
    assert [cipher.decrypt(t) for t in data["patient_token"]] == ["P1", "P2", "P4"]
    assert data["nir_token"][1] is None and data["nir_invalide"] == [False, True, False]
    assert len(data["nir_token"][0]) == 15

    for_recipient = replace(base, recipient="inserm-u123")
    plain = PolicyApplier(base, KEYRING).apply(_batch()).data.column("patient_token")
    other = PolicyApplier(for_recipient, KEYRING).apply(_batch()).data.column("patient_token")
    assert plain.to_pylist() != other.to_pylist()
    patient_for = Tokeniser(SecretKey("k1", SECRET), "patient@inserm-u123")
    assert other.to_pylist()[0] == patient_for.token("P1")
