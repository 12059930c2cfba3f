"""ArrowCoder: Arrow elements are sized from their buffers, never by encoding them."""

from __future__ import annotations

import pickle

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pytest
from apache_beam.pipeline import PipelineVisitor

from pipeline.io import ReadExport, ReadSettings
from schemas.loader import load_policy, shipped_policy_path
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
from transforms.policy_applier import output_schema
from transforms.privacy.beam import EnforcePrivacy, MeasureClasses
from transforms.privacy.measure import ClassPairs


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
    value = {1, 2, 3}
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


def test_size_of_numpy_arrays_dicts_and_dataclasses() -> None:
    pairs = ClassPairs(
        classes=_table(10),
        subjects=pa.array(["s1", "s2"]),
        pair_class=np.arange(5, dtype=np.int32),
        pair_subject=np.arange(5, dtype=np.int32),
        pair_rows=np.ones(5, dtype=np.int64),
    )
    expected = _table(10).nbytes + pa.array(["s1", "s2"]).nbytes + 20 + 20 + 40
    assert arrow_nbytes(pairs) == expected
    assert arrow_nbytes({"k": np.zeros(3)}) == 1 + 24
    assert arrow_nbytes(["ab", b"cde"]) == 5


def _outputs(pipeline: beam.Pipeline) -> dict[str, object]:
    """Every PCollection of `pipeline`, by the label of the step producing it and its tag."""
    found: dict[str, object] = {}

    class Visitor(PipelineVisitor):
        def visit_transform(self, node) -> None:
            for tag, pcoll in node.outputs.items():
                found[f"{node.full_label}:{tag}"] = pcoll

    pipeline.visit(Visitor())
    return found


def test_privacy_pcollections_use_it() -> None:
    policy = load_policy(shipped_policy_path("lab-export-v1"))
    pipeline = beam.Pipeline()
    tables = pipeline | beam.Create([]).with_output_types(pa.Table)
    tables | MeasureClasses(policy)
    tables | EnforcePrivacy(policy, 0, frozenset(), output_schema(policy))
    outputs = _outputs(pipeline)
    arrow = [
        label
        for label in outputs
        if label.endswith(("Class pairs:None", "ParDo(_EnforceFn):None", "_EnforceFn):rejected"))
    ]
    assert len(arrow) == 3, sorted(outputs)
    registry = beam.coders.registry
    for label in arrow:
        assert isinstance(registry.get_coder(outputs[label].element_type), ArrowCoder), label
