"""ArrowCoder: Arrow elements are sized from their buffers, never by encoding them."""

from __future__ import annotations

import pickle

import apache_beam as beam
import pyarrow as pa
import pytest

from pipeline.io import ReadExport, ReadSettings
from tests.unit.policies import small_policy
from transforms import beam as beam_layer
from transforms.beam import (
    REJECTED,
    ArrowCoder,
    KeyringRef,
    PseudonymiseBatches,
    SourceBatch,
    arrow_nbytes,
)


def _table(rows: int = 1000) -> pa.Table:
    return pa.table({"a": pa.array(range(rows)), "b": pa.array([f"v{i}" for i in range(rows)])})


@pytest.mark.parametrize(
    "value",
    [
        _table(),
        _table().to_batches()[0],
        SourceBatch("in.csv", _table().to_batches()[0], pa.array(range(1, 1001), pa.int64())),
    ],
    ids=["table", "record-batch", "source-batch"],
)
def test_round_trip(value) -> None:
    coder = ArrowCoder()
    decoded = coder.decode(coder.encode(value))
    assert type(decoded) is type(value)
    if isinstance(value, SourceBatch):
        assert decoded.source_file == value.source_file
        assert decoded.table.equals(value.table) and decoded.rows.equals(value.rows)
    else:
        assert decoded.equals(value)


def test_size_comes_from_the_buffers_without_pickling(monkeypatch) -> None:
    table = _table(50_000)
    batch = SourceBatch("in.csv", table.to_batches()[0], pa.array(range(50_000), pa.int64()))

    def refuse(*args, **kwargs):
        raise AssertionError("estimate_size pickled the element")

    monkeypatch.setattr(beam_layer.pickle, "dumps", refuse)
    assert ArrowCoder().estimate_size(table) == table.nbytes
    impl = ArrowCoder().get_impl()
    assert impl.estimate_size(batch) == len("in.csv") + batch.table.nbytes + batch.rows.nbytes


def test_size_of_other_values_is_their_pickle() -> None:
    value = {"k": [1, 2, 3]}
    assert arrow_nbytes(value) == len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


def test_arrow_pcollections_use_it(tmp_path) -> None:
    policy = small_policy()
    settings = ReadSettings(columns=policy.column_names, delimiter=";", encoding="utf-8")
    pipeline = beam.Pipeline()
    read = pipeline | beam.Create([]) | ReadExport(settings)
    applied = read.batches | PseudonymiseBatches(policy, KeyringRef(str(tmp_path / "k"), "k1"))
    registry = beam.coders.registry
    for pcoll in (read.batches, read[REJECTED], applied.data, applied[REJECTED]):
        assert isinstance(registry.get_coder(pcoll.element_type), ArrowCoder), pcoll
