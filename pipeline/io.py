"""Beam IO: input files to Arrow batches, and Parquet sinks for data and rejected rows."""

from __future__ import annotations

import os
import uuid
from typing import Any

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
from apache_beam.pvalue import TaggedOutput
from apache_beam.transforms.window import GlobalWindows

from pipeline.inputs import InputFile, ReadSettings
from pipeline.readers import iter_batches
from schemas.errors import PseudolabError
from transforms.beam import REJECTED, STATS, SourceBatch, redacted_errors, refusal
from transforms.rejected import rejected_table


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
        read = settings.read_columns
        if read is not None and (not read or not set(read) <= set(settings.columns)):
            raise ValueError("read_columns must be some of the columns")
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


# Stats records naming the files a bundle committed: (("file", directory name, file name), rows).
FILE_STAT = "file"
PARQUET_CODEC = "snappy"


def write_parquet(tables, directory: str, schema: pa.Schema, label: str, prefix: str = "part"):
    """Tables -> Parquet files `<directory>/<prefix>-<32 hex>.parquet`, one per bundle that
    had rows, with `schema` (and its metadata). Returns the stats records of the committed
    files: (("file", basename(directory), file name), rows).

    A retried bundle writes a new file: only files named by committed records are published
    (pipeline.outcome), the others are orphans of failed attempts.
    """
    return tables | label >> beam.ParDo(_WriteParquetFn(directory, schema, prefix))


class _ParquetFile:
    """One Parquet file written under a hidden temporary name, renamed into place on commit."""

    def __init__(self, directory: str, schema: pa.Schema, prefix: str):
        os.makedirs(directory, exist_ok=True)
        self.name = f"{prefix}-{uuid.uuid4().hex}.parquet"
        self.path = os.path.join(directory, self.name)
        self.temp_path = os.path.join(directory, f".{self.name}.tmp")
        self.rows = 0
        self._writer = pq.ParquetWriter(self.temp_path, schema, compression=PARQUET_CODEC)

    def write(self, table: pa.Table) -> None:
        self._writer.write_table(table)  # refuses a table that does not match the schema
        self.rows += table.num_rows

    def commit(self) -> None:
        self._writer.close()
        os.replace(self.temp_path, self.path)

    def abort(self) -> None:
        try:
            self._writer.close()
        finally:
            if os.path.exists(self.temp_path):
                os.remove(self.temp_path)


def write_empty_parquet(directory: str, schema: pa.Schema, prefix: str = "part") -> str:
    """A valid Parquet file with `schema` and no rows; returns its name."""
    empty = _ParquetFile(directory, schema, prefix)
    empty.commit()
    return empty.name


class _WriteParquetFn(beam.DoFn):
    def __init__(self, directory: str, schema: pa.Schema, prefix: str):
        self._directory = directory
        self._schema = schema
        self._prefix = prefix
        self._kind = os.path.basename(os.path.normpath(directory))
        self._file: _ParquetFile | None = None

    def start_bundle(self) -> None:
        self._abort()  # left open by a bundle that failed on this instance

    def process(self, table):
        if isinstance(table, pa.RecordBatch):
            table = pa.Table.from_batches([table])
        if not table.num_rows:
            return
        with redacted_errors(f"writing {self._kind}/"):
            if self._file is None:
                self._file = _ParquetFile(self._directory, self._schema, self._prefix)
            self._file.write(table)

    def finish_bundle(self):
        if self._file is None:
            return  # an empty bundle writes nothing
        done, self._file = self._file, None
        with redacted_errors(f"writing {self._kind}/"):
            done.commit()
        yield GlobalWindows.windowed_value(((FILE_STAT, self._kind, done.name), done.rows))

    def teardown(self) -> None:
        self._abort()

    def _abort(self) -> None:
        if self._file is not None:
            aborted, self._file = self._file, None
            aborted.abort()

    def __getstate__(self):
        state = self.__dict__.copy()
        state["_file"] = None
        return state
