"""The layout of rejected rows: where the row was and why, never its values."""

from __future__ import annotations

import pyarrow as pa

REJECTED_SCHEMA = pa.schema(
    [
        pa.field("source_file", pa.string(), nullable=False),
        pa.field("source_row", pa.int64(), nullable=False),
        pa.field("column", pa.string()),
        pa.field("reason", pa.string(), nullable=False),
    ]
)


def rejected_table(
    source_file: str, rows: pa.Array, columns: pa.Array, reasons: pa.Array
) -> pa.Table:
    """Rejected rows of one source file. `rows` are 1-based record numbers."""
    count = len(rows)
    return pa.Table.from_arrays(
        [
            pa.repeat(pa.scalar(source_file), count).cast(pa.string()),
            rows.cast(pa.int64()),
            columns.cast(pa.string()),
            reasons.cast(pa.string()),
        ],
        schema=REJECTED_SCHEMA,
    )
