"""Per-bundle Parquet writers, the stats file and the measures file: what a pass commits."""

from __future__ import annotations

import json
import os

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from apache_beam.transforms.window import GlobalWindow

from pipeline.io import FILE_STAT, _WriteParquetFn, write_parquet
from pipeline.outcome import (
    STATS_DIR,
    OutputsMismatch,
    _read_stats,
    committed_files,
    write_one_file,
    write_stats,
)
from pipeline.privacy_pass import _ReadStagedFn

SCHEMA = pa.schema(
    [pa.field("token", pa.string()), pa.field("value", pa.int64(), nullable=False)]
).with_metadata({"pseudolab.run_id": "test-run"})


def table(start: int, rows: int) -> pa.Table:
    values = list(range(start, start + rows))
    return pa.Table.from_pydict(
        {"token": [f"t{v}" for v in values], "value": values},
        schema=SCHEMA.remove_metadata(),
    )


def visible(directory) -> list[str]:
    return sorted(name for name in os.listdir(directory) if not name.startswith("."))


def test_written_files_are_the_committed_ones_with_schema_and_metadata(pipeline, tmp_path):
    staging = str(tmp_path)
    tables = [table(0, 3), table(3, 0), table(3, 4).to_batches()[0]]  # a batch is a table too
    with pipeline as p:
        written = write_parquet(
            p | beam.Create(tables, reshuffle=False), f"{staging}/data", SCHEMA, "Write"
        )
        write_stats(written, staging, "stats")
    committed = committed_files(_read_stats(staging, ("stats",)), "data")
    assert sorted(committed) == visible(tmp_path / "data")  # no temporary names left
    assert sum(committed.values()) == 7
    for name, rows in committed.items():
        assert name.startswith("part-") and name.endswith(".parquet")
        parquet = pq.ParquetFile(tmp_path / "data" / name)
        assert parquet.metadata.num_rows == rows
        assert parquet.schema_arrow.equals(SCHEMA, check_metadata=True)
        assert parquet.metadata.row_group(0).column(0).compression == "SNAPPY"
    values = pq.read_table(tmp_path / "data").column("value").to_pylist()
    assert sorted(values) == list(range(7))


def test_an_empty_pass_writes_no_parquet_and_an_empty_stats_file(pipeline, tmp_path):
    staging = str(tmp_path)
    with pipeline as p:
        empty = p | beam.Create([table(0, 0)], reshuffle=False)
        written = write_parquet(empty, f"{staging}/data", SCHEMA, "Write")
        write_stats(written, staging, "stats")
    assert not (tmp_path / "data").exists()
    assert (tmp_path / STATS_DIR / "stats.jsonl").read_text() == ""
    assert _read_stats(staging, ("stats",)) == []


def test_stats_are_summed_per_key_in_one_sorted_file(pipeline, tmp_path):
    staging = str(tmp_path)
    records = [
        (("rows_in", "b.csv"), 2),
        (("rows_in", "a.csv"), 1),
        (("rows_in", "b.csv"), 5),
        (("refused", 3, "input-unreadable: a.csv"), 1),
        (("flag", "nir_invalide", "nir"), 4),
    ]
    with pipeline as p:
        write_stats(p | beam.Create(records), staging, "stats")
    assert visible(tmp_path / STATS_DIR) == ["stats.jsonl"]
    lines = (tmp_path / STATS_DIR / "stats.jsonl").read_text().splitlines()
    entries = [json.loads(line) for line in lines]
    assert entries == sorted(entries, key=lambda entry: json.dumps(entry[0]))
    assert sorted(map(json.dumps, entries)) == sorted(
        map(
            json.dumps,
            [
                [["rows_in", "b.csv"], 7],
                [["rows_in", "a.csv"], 1],
                [["refused", 3, "input-unreadable: a.csv"], 1],
                [["flag", "nir_invalide", "nir"], 4],
            ],
        )
    )


def test_a_pass_without_its_stats_file_is_an_error(tmp_path):
    (tmp_path / STATS_DIR).mkdir()
    (tmp_path / STATS_DIR / "stats.jsonl").write_text("")
    (tmp_path / STATS_DIR / ".privacy.jsonl.0123.tmp").write_text('[["rows_out"], 1]\n')
    assert _read_stats(str(tmp_path), ("stats",)) == []  # temporary files are never read
    with pytest.raises(OutputsMismatch, match="privacy"):
        _read_stats(str(tmp_path), ("stats", "privacy"))


def test_one_file_is_written_whole(pipeline, tmp_path):
    path = str(tmp_path / "_privacy" / "measures.json")
    with pipeline as p:
        write_one_file(p | beam.Create([{"k": 5}]), path, json.dumps, "Write one")
    assert json.loads((tmp_path / "_privacy" / "measures.json").read_text()) == {"k": 5}
    assert os.listdir(tmp_path / "_privacy") == ["measures.json"]


def test_a_failed_bundle_attempt_leaves_nothing_and_a_retry_commits_a_new_file(tmp_path):
    directory = str(tmp_path / "data")
    fn = _WriteParquetFn(directory, SCHEMA, "part")
    fn.setup()
    fn.start_bundle()
    fn.process(table(0, 3))
    assert [name for name in os.listdir(directory) if name.endswith(".tmp")]  # in progress
    # The attempt fails before finish_bundle; the runner retries on the same instance.
    fn.start_bundle()
    assert os.listdir(directory) == []
    fn.process(table(0, 3))
    [output] = list(fn.finish_bundle())
    assert output.windows == (GlobalWindow(),)
    (kind, directory_name, name), rows = output.value
    assert (kind, directory_name, rows) == (FILE_STAT, "data", 3)
    assert os.listdir(directory) == [name]
    # A second committed bundle never reuses a name.
    fn.start_bundle()
    fn.process(table(3, 1))
    [second] = list(fn.finish_bundle())
    assert second.value[0][2] != name
    fn.start_bundle()
    assert list(fn.finish_bundle()) == []  # an empty bundle commits nothing
    fn.process(table(4, 1))
    fn.teardown()  # a worker shut down mid-bundle
    assert sorted(os.listdir(directory)) == sorted([name, second.value[0][2]])


def test_a_table_that_does_not_match_the_schema_fails_the_bundle(tmp_path):
    fn = _WriteParquetFn(str(tmp_path / "data"), SCHEMA, "part")
    fn.start_bundle()
    wrong = pa.table({"token": ["a"], "value": ["not a number"]})
    with pytest.raises(Exception, match="details withheld") as raised:
        fn.process(wrong)
    assert "not a number" not in str(raised.value)
    fn.teardown()
    assert os.listdir(tmp_path / "data") == []


def test_staged_files_are_read_back_row_group_by_row_group(pipeline, tmp_path):
    path = str(tmp_path / "staged.parquet")
    with pq.ParquetWriter(path, SCHEMA) as writer:
        writer.write_table(table(0, 2))
        writer.write_table(table(2, 3))
    tables = list(_ReadStagedFn().process(path))
    assert [t.num_rows for t in tables] == [2, 3]
    assert pa.concat_tables(tables).column("value").to_pylist() == list(range(5))
