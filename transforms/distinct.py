"""Python work on distinct values only: lab exports repeat identifiers, dates and labels."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pyarrow as pa
import pyarrow.compute as pc


def map_distinct(
    values: pa.Array | pa.ChunkedArray,
    function: Callable[[list[str]], Sequence[str | None]],
) -> pa.Array:
    """Strings from `function` applied once to the distinct non-null values (as one list),
    spread back to the rows; null stays null."""
    if isinstance(values, pa.ChunkedArray):
        values = values.combine_chunks()
    encoded = values.cast(pa.string()).dictionary_encode()
    mapped = function(encoded.dictionary.to_pylist())
    return pc.take(pa.array(mapped, pa.string()), encoded.indices)


def each(function: Callable[[str], str | None]) -> Callable[[list[str]], list[str | None]]:
    """`function` of one value, as `map_distinct` takes it."""
    return lambda values: [function(value) for value in values]
