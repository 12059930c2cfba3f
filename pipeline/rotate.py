"""Crosswalk after a key rotation: old token -> new token per keyed column.

Run at the source, where clear values exist. Recipients receive only the crosswalk
(tokens on both sides) and carry their cohorts across the rotation without ever
seeing a clear value.
"""

from __future__ import annotations

import os
from dataclasses import replace

import pyarrow as pa
import pyarrow.parquet as pq

from pipeline import __version__
from pipeline.preflight import check_inputs, expand_inputs
from pipeline.readers import iter_batches
from schemas.errors import KeyringError, UsageError
from schemas.model import KEYED_ACTIONS, Policy
from transforms.keyring import Keyring
from transforms.policy_applier import PolicyApplier

CROSSWALK_SCHEMA = pa.schema(
    [("column", pa.string()), ("old_token", pa.string()), ("new_token", pa.string())]
)


def previous_key_id(keyring: Keyring) -> str:
    """The key rotated away from: the last retired key listed before the primary."""
    retired = [key.key_id for key in keyring.keys if key.key_id in keyring.retired]
    if not retired:
        raise KeyringError(
            "keyring-primary", path=keyring.source, reason="no retired key to rotate from"
        )
    return retired[-1]


def _distinct_pairs(tables: list[pa.Table]) -> pa.Table:
    if not tables:
        return CROSSWALK_SCHEMA.empty_table()
    merged = pa.concat_tables(tables)
    return merged.group_by(CROSSWALK_SCHEMA.names).aggregate([]).select(CROSSWALK_SCHEMA.names)


def build_crosswalk(
    policy: Policy,
    keyring: Keyring,
    inputs: list[str],
    output: str,
    from_key: str | None = None,
    encoding: str | None = None,
) -> dict[str, int]:
    """Write the crosswalk Parquet file; returns pairs per column."""
    keyed = [
        rule.action.output for rule in policy.columns if isinstance(rule.action, KEYED_ACTIONS)
    ]
    if not keyed:
        raise UsageError(f"policy {policy.name} has no tokenised, encrypted or fpe column")
    if os.path.exists(output):
        raise UsageError(f"{output} already exists: choose a new file")
    old_id = from_key or previous_key_id(keyring)
    keyring.key(old_id)  # refuses a destroyed or unknown key clearly
    if old_id == keyring.primary_id:
        raise UsageError("--from names the primary key: nothing to rotate from")
    old = PolicyApplier(policy, replace(keyring, primary_id=old_id))
    new = PolicyApplier(policy, keyring)
    chosen_encoding = encoding or policy.input.encoding
    sources = expand_inputs(inputs, None)
    check_inputs(policy, sources, chosen_encoding)
    pairs: list[pa.Table] = []
    for source in sources:
        for raw in iter_batches(
            source.path,
            source.format,
            columns=policy.column_names,
            delimiter=policy.input.delimiter,
            encoding=chosen_encoding,
        ):
            before, after = old.apply(raw.table).data, new.apply(raw.table).data
            for column in keyed:
                table = pa.table(
                    [
                        pa.repeat(pa.scalar(column), before.num_rows).cast(pa.string()),
                        before.column(column),
                        after.column(column),
                    ],
                    schema=CROSSWALK_SCHEMA,
                ).drop_null()
                pairs.append(_distinct_pairs([table]))
    crosswalk = _distinct_pairs(pairs).sort_by(
        [("column", "ascending"), ("old_token", "ascending")]
    )
    metadata = {
        "pseudolab.version": __version__,
        "pseudolab.policy.name": policy.name,
        "pseudolab.policy.sha256": policy.sha256,
        "pseudolab.old_key_id": old_id,
        "pseudolab.new_key_id": keyring.primary_id,
    }
    temporary = f"{output}.partial"
    pq.write_table(crosswalk.replace_schema_metadata(metadata), temporary)
    os.replace(temporary, output)
    counts = pa.compute.value_counts(crosswalk.column("column")).to_pylist()
    return {entry["values"]: entry["counts"] for entry in counts}
