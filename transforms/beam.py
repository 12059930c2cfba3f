"""The thin Beam layer: a policy applied to Arrow record batches.

Elements are `SourceBatch`es (a record batch of one input file and the record
numbers of its rows), never single rows. The DoFn carries a reference to the
keyring and loads the key in `setup()`: key material is never pickled.

Importing this module registers `ArrowCoder` in Beam's coder registry (for the whole
process) for pa.Table, pa.RecordBatch and SourceBatch: PCollections declared to hold
them are sized from their buffers.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NamedTuple

import apache_beam as beam
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from apache_beam.pvalue import TaggedOutput

from schemas.errors import PseudolabError
from schemas.model import Policy
from transforms.keyring import KeyringRef  # re-exported: it moved to transforms.keyring
from transforms.policy_applier import PolicyApplier
from transforms.rejected import rejected_table

REJECTED = "rejected"
STATS = "stats"


# ---------------------------------------------------------------- a coder for Arrow elements
# Beam samples the size of elements as they pass between steps. For a type it has no
# coder for, it estimates the size by encoding the element, which for a batch of tens of
# thousands of rows means pickling all of it (about a tenth of a run's time). ArrowCoder
# reads the size from the Arrow buffers instead. Encoding (only where elements leave a
# process or cross a shuffle) stays pickle, which pyarrow implements over its buffers.


def arrow_nbytes(value: Any) -> int:
    """About the encoded size of `value`, from its Arrow and numpy buffers, without
    encoding it: tuples, dicts and dataclasses are summed over their items."""
    if isinstance(value, (pa.Table, pa.RecordBatch, pa.Array, pa.ChunkedArray, np.ndarray)):
        return value.nbytes
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (tuple, list)):
        return sum(arrow_nbytes(item) for item in value)
    if isinstance(value, dict):
        return sum(arrow_nbytes(k) + arrow_nbytes(v) for k, v in value.items())
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return sum(arrow_nbytes(getattr(value, f.name)) for f in dataclasses.fields(value))
    return len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))


class ArrowCoder(beam.coders.Coder):
    """Pickles Arrow values; sizes them from their buffers."""

    def encode(self, value: Any) -> bytes:
        return pickle.dumps(value, pickle.HIGHEST_PROTOCOL)

    def decode(self, encoded: bytes) -> Any:
        return pickle.loads(encoded)

    def estimate_size(self, value: Any) -> int:
        return arrow_nbytes(value)

    def is_deterministic(self) -> bool:
        return False

    def to_type_hint(self):
        return Any


def register_arrow_coder(*types: type) -> None:
    """Use ArrowCoder for PCollections declared to hold `types`."""
    for value_type in types:
        beam.coders.registry.register_coder(value_type, ArrowCoder)


register_arrow_coder(pa.Table, pa.RecordBatch)


class SourceBatch(NamedTuple):
    source_file: str
    table: pa.RecordBatch
    rows: pa.Array  # int64 record numbers, aligned with `table`


register_arrow_coder(SourceBatch)


class StepFailed(RuntimeError):
    """An unexpected failure inside a step, with the original message withheld."""


@contextmanager
def redacted_errors(step: str) -> Iterator[None]:
    """Re-raise unexpected errors without their message: libraries quote cell values."""
    try:
        yield
    except PseudolabError:
        raise
    except Exception as error:
        raise StepFailed(f"{step} failed: {type(error).__name__} (details withheld)") from None


def refusal(error: PseudolabError) -> tuple[tuple, int]:
    """A refusal met inside the pipeline, as a stats record: the launcher turns it into
    the refusal's exit code after the run, and publishes nothing. Messages of
    PseudolabError are value-free by construction."""
    return ("refused", error.exit_code, str(error)), 1


# Provenance columns carried by published tables when a later pass needs them.
SOURCE_FILE = "_pseudolab_source_file"
SOURCE_ROW = "_pseudolab_source_row"


def with_provenance(table: pa.Table, source_file: str, rows: pa.Array) -> pa.Table:
    files = pa.repeat(pa.scalar(source_file), table.num_rows).cast(pa.string())
    return table.append_column(SOURCE_FILE, files).append_column(SOURCE_ROW, rows)


class _PseudonymiseFn(beam.DoFn):
    def __init__(self, policy: Policy, keyring_ref: KeyringRef, provenance: bool = False):
        self._policy = policy
        self._keyring_ref = keyring_ref
        self._provenance = provenance
        self._applier: PolicyApplier | None = None

    def setup(self) -> None:
        self._refused: PseudolabError | None = None
        try:
            self._applier = PolicyApplier(self._policy, self._keyring_ref.load())
        except PseudolabError as error:  # e.g. the keyring changed since the preflight
            self._refused = error

    def process(self, element: SourceBatch):
        if self._refused is not None:
            yield TaggedOutput(STATS, refusal(self._refused))
            return
        assert self._applier is not None
        with redacted_errors("pseudonymise"):
            applied = self._applier.apply(element.table)
            rejected = rejected_table(
                element.source_file,
                pc.take(element.rows, applied.rejected_index),
                applied.rejected_column,
                applied.rejected_reason,
            )
        if applied.data.num_rows:
            table = pa.Table.from_batches([applied.data])
            if self._provenance:
                kept_rows = pc.take(element.rows, applied.kept_index).cast(pa.int64())
                table = with_provenance(table, element.source_file, kept_rows)
            yield table
        if rejected.num_rows:
            yield TaggedOutput(REJECTED, rejected)
        yield TaggedOutput(STATS, (("rows_out",), applied.data.num_rows))
        for (code, column), count in applied.flags.items():
            yield TaggedOutput(STATS, (("flag", code, column), count))

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_applier"] = None  # never ship key-derived state
        state.pop("_refused", None)
        return state


class PseudonymiseBatches(beam.PTransform):
    """SourceBatch -> published pa.Table (main), rejected pa.Table, stats (key, count).

    With `provenance`, published tables also carry SOURCE_FILE and SOURCE_ROW.
    """

    def __init__(self, policy: Policy, keyring_ref: KeyringRef, provenance: bool = False):
        super().__init__()
        if not isinstance(policy, Policy):
            raise TypeError("policy must be a loaded schemas.model.Policy")
        if not isinstance(keyring_ref, KeyringRef):
            raise TypeError("keyring_ref must be a KeyringRef (a path, never key material)")
        self._policy = policy
        self._keyring_ref = keyring_ref
        self._provenance = provenance

    def expand(self, batches):
        return batches | "Pseudonymise" >> beam.ParDo(
            _PseudonymiseFn(self._policy, self._keyring_ref, self._provenance)
        ).with_output_types(pa.Table, **{REJECTED: pa.Table, STATS: Any}).with_outputs(
            REJECTED, STATS, main="data"
        )
