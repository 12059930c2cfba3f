"""Beam IO: input files to Arrow batches, and Parquet sinks for data and rejected rows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import apache_beam as beam
import pyarrow as pa
from apache_beam.io.parquetio import WriteToParquetBatched
from apache_beam.pvalue import TaggedOutput

from pipeline.readers import iter_batches
from schemas.errors import PseudolabError
from transforms.beam import REJECTED, STATS, SourceBatch, redacted_errors, refusal
from transforms.rejected import rejected_table


@dataclass(frozen=True)
class InputFile:
    path: str
    format: str


@dataclass(frozen=True)
class ReadSettings:
    columns: tuple[str, ...]  # every column a file must have
    delimiter: str
    encoding: str
    read_columns: tuple[str, ...] | None = None  # the ones converted; None: all


class _ReadFileFn(beam.DoFn):
    def __init__(self, settings: ReadSettings):
        self._settings = settings

    def process(self, source: InputFile):
        try:
            yield from self._read(source)
        except PseudolabError as error:  # a file that turns out unreadable mid-way
            yield TaggedOutput(STATS, refusal(error))

    def _read(self, source: InputFile):
        settings = self._settings
        records = 0
        with redacted_errors(f"reading {source.path}"):
            for raw in iter_batches(
                source.path,
                source.format,
                columns=settings.columns,
                read_columns=settings.read_columns,
                delimiter=settings.delimiter,
                encoding=settings.encoding,
            ):
                records += raw.table.num_rows + len(raw.rejected)
                if raw.table.num_rows:
                    yield SourceBatch(source.path, raw.table, raw.rows)
                if raw.rejected:
                    numbers, reasons = zip(*raw.rejected, strict=True)
                    yield TaggedOutput(
                        REJECTED,
                        rejected_table(
                            source.path,
                            pa.array(numbers, pa.int64()),
                            pa.nulls(len(numbers), pa.string()),
                            pa.array(reasons, pa.string()),
                        ),
                    )
        yield TaggedOutput(STATS, (("rows_in", source.path), records))


class ReadExport(beam.PTransform):
    """InputFile -> SourceBatch (main), rejected pa.Table, stats (key, count)."""

    def __init__(self, settings: ReadSettings):
        super().__init__()
        if not settings.columns:
            raise ValueError("no columns to read")
        self._settings = settings

    def expand(self, files):
        return (
            files
            | "Spread files" >> beam.Reshuffle()
            | "Read"
            >> beam.ParDo(_ReadFileFn(self._settings))
            .with_output_types(SourceBatch, **{REJECTED: pa.Table, STATS: Any})
            .with_outputs(REJECTED, STATS, main="batches")
        )


def write_parquet(tables, directory: str, schema: pa.Schema, label: str, prefix: str = "part"):
    """Parquet shards `<directory>/<prefix>-SSSSS-of-NNNNN.parquet` with `schema` (and its
    metadata)."""
    return tables | label >> WriteToParquetBatched(
        file_path_prefix=f"{directory}/{prefix}",
        schema=schema,
        codec="snappy",
        file_name_suffix=".parquet",
    )
