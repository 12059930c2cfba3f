import pickle

import apache_beam as beam
import pyarrow as pa
import pytest
from apache_beam.testing.util import assert_that, equal_to

from tests.unit.policies import small_policy
from transforms.beam import KeyringRef, PseudonymiseBatches, SourceBatch, _PseudonymiseFn
from transforms.keyring import load_keyring, write_new_keyring
from transforms.tokeniser import Tokeniser

ROWS = {
    "ipp": ["P1", "P2", "P3"],
    "nir": ["2 84 05 88 321 025 32", "bad", None],
    "nom": ["DUPONT", "MARTIN", "LE GALL"],
    "naissance": ["17/05/1984", "31/02/2001", "01/01/1930"],
    "commune": ["56260", "2A004", "97209"],
    "prelevement": ["01/03/2021 08:12", "01/03/2021 08:12", "28/02/2021 10:00"],
    "valeur": ["5,4", "0.5", None],
}


@pytest.fixture
def keyring_ref(tmp_path):
    path = tmp_path / "keyring.json"
    key_id = write_new_keyring(path)
    return KeyringRef(str(path), key_id)


def _source(name="export.csv", start=1):
    table = pa.RecordBatch.from_pydict({k: pa.array(v, pa.string()) for k, v in ROWS.items()})
    return SourceBatch(name, table, pa.array(range(start, start + 3), pa.int64()))


def test_pipeline_publishes_tokens_and_routes_rejected_rows(pipeline, keyring_ref):
    key = load_keyring(keyring_ref.path).primary
    patient = Tokeniser(key, "patient")
    with pipeline:
        out = (
            pipeline
            | beam.Create([_source("a.csv", 1), _source("b.csv", 10)])
            | PseudonymiseBatches(small_policy(), keyring_ref)
        )
        tokens = out.data | "tokens" >> beam.FlatMap(
            lambda t: t.column("patient_token").to_pylist()
        )
        rejected = out.rejected | "rows" >> beam.FlatMap(
            lambda t: zip(
                t.column("source_file").to_pylist(),
                t.column("source_row").to_pylist(),
                t.column("reason").to_pylist(),
                strict=True,
            )
        )
        stats = out.stats | beam.CombinePerKey(sum)
        expected = [patient.token("P1"), patient.token("P3")] * 2
        assert_that(tokens, equal_to(expected), label="tokens")
        assert_that(
            rejected,
            equal_to([("a.csv", 2, "invalid-date"), ("b.csv", 11, "invalid-date")]),
            label="rejected",
        )
        assert_that(stats, equal_to([(("rows_out",), 4)]), label="stats")


def test_dofn_pickles_without_key_material(keyring_ref):
    fn = _PseudonymiseFn(small_policy(), keyring_ref)
    fn.setup()
    payload = pickle.dumps(fn)
    key = load_keyring(keyring_ref.path).primary
    assert key.material not in payload
    assert b"PolicyApplier" not in payload


def test_transform_refuses_key_material_in_place_of_a_reference(keyring_ref):
    keyring = load_keyring(keyring_ref.path)
    with pytest.raises(TypeError):
        PseudonymiseBatches(small_policy(), keyring)
