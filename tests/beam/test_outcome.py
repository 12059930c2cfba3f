"""The launcher publishes exactly the files the pipeline committed, never a glob."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from pipeline.io import FILE_STAT
from pipeline.outcome import STATS_DIR, OutputsMismatch, read_outcome
from pipeline.privacy_pass import STAGE_DIR, staged_files
from transforms.rejected import REJECTED_SCHEMA, rejected_table

METADATA = {"pseudolab.run_id": "test-run"}
DATA_SCHEMA = pa.schema([pa.field("token", pa.string())]).with_metadata(METADATA)
OUTPUTS = {"data": DATA_SCHEMA, "rejected": REJECTED_SCHEMA.with_metadata(METADATA)}


def parquet(path: Path, rows: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    table = pa.table({"token": [f"t{n}" for n in range(rows)]}, schema=DATA_SCHEMA)
    pq.write_table(table, path)


def stats(staging: Path, name: str, entries: list) -> None:
    (staging / STATS_DIR).mkdir(exist_ok=True)
    text = "".join(json.dumps([list(key), count]) + "\n" for key, count in entries)
    (staging / STATS_DIR / f"{name}.jsonl").write_text(text)


@pytest.fixture
def staging(tmp_path) -> Path:
    """A finished pass: one input of 5 rows, 5 published in two committed files."""
    parquet(tmp_path / "data" / "part-a.parquet", 2)
    parquet(tmp_path / "data" / "part-b.parquet", 3)
    stats(
        tmp_path,
        "stats",
        [
            (("rows_in", "in.csv"), 5),
            (("rows_out",), 5),
            ((FILE_STAT, "data", "part-a.parquet"), 2),
            ((FILE_STAT, "data", "part-b.parquet"), 3),
        ],
    )
    return tmp_path


def test_files_of_failed_attempts_are_deleted_not_published(staging):
    parquet(staging / "data" / "part-orphan.parquet", 4)  # renamed, then the bundle failed
    parquet(staging / "data" / ".part-c.parquet.tmp", 1)  # never renamed
    outcome = read_outcome(str(staging), ["in.csv"], OUTPUTS)
    assert outcome.data_files == ["data/part-a.parquet", "data/part-b.parquet"]
    assert sorted(os.listdir(staging / "data")) == ["part-a.parquet", "part-b.parquet"]
    assert outcome.rows_out == 5 and outcome.reconciled


def test_a_committed_file_that_is_missing_refuses(staging):
    os.remove(staging / "data" / "part-b.parquet")
    with pytest.raises(OutputsMismatch, match=r"part-b\.parquet was committed but is missing"):
        read_outcome(str(staging), ["in.csv"], OUTPUTS)


def test_a_committed_file_with_other_rows_refuses(staging):
    parquet(staging / "data" / "part-b.parquet", 1)
    with pytest.raises(OutputsMismatch, match="holds 1 rows, the pipeline committed 3"):
        read_outcome(str(staging), ["in.csv"], OUTPUTS)


def test_no_stats_means_nothing_to_publish(tmp_path):
    parquet(tmp_path / "data" / "part-a.parquet", 2)
    with pytest.raises(OutputsMismatch, match="recorded no stats"):
        read_outcome(str(tmp_path), ["in.csv"], OUTPUTS)


def test_an_output_without_files_gets_one_empty_valid_parquet(staging):
    outcome = read_outcome(str(staging), ["in.csv"], OUTPUTS)
    [name] = os.listdir(staging / "rejected")
    assert outcome.rejected_files == [f"rejected/{name}"]
    assert outcome.rows_rejected == 0 and outcome.rejected_by_reason == {}
    written = pq.read_table(staging / "rejected" / name)
    assert written.num_rows == 0
    assert written.schema.equals(OUTPUTS["rejected"], check_metadata=True)


def test_both_passes_are_read_and_the_stage_is_read_from_the_first(tmp_path):
    """Gate on: the first pass stages 5 rows, the second publishes 4 and suppresses 1."""
    parquet(tmp_path / STAGE_DIR / "part-s.parquet", 5)
    parquet(tmp_path / STAGE_DIR / "part-orphan.parquet", 5)
    stats(
        tmp_path,
        "stats",
        [
            (("rows_in", "in.csv"), 5),
            (("rows_out",), 5),
            ((FILE_STAT, STAGE_DIR, "part-s.parquet"), 5),
        ],
    )
    assert staged_files(str(tmp_path)) == [str(tmp_path / STAGE_DIR / "part-s.parquet")]
    assert os.listdir(tmp_path / STAGE_DIR) == ["part-s.parquet"]

    parquet(tmp_path / "data" / "part-a.parquet", 4)
    suppressed = rejected_table(
        "in.csv", pa.array([4]), pa.nulls(1, pa.string()), pa.array(["k-anonymity"])
    )
    (tmp_path / "rejected").mkdir()
    pq.write_table(suppressed, tmp_path / "rejected" / "k-anonymity-a.parquet")
    stats(
        tmp_path,
        "privacy",
        [
            (("rows_out_after_privacy",), 4),
            ((FILE_STAT, "data", "part-a.parquet"), 4),
            ((FILE_STAT, "rejected", "k-anonymity-a.parquet"), 1),
        ],
    )
    with pytest.raises(OutputsMismatch, match="recorded no stats"):
        read_outcome(str(tmp_path), ["in.csv"], OUTPUTS, ("stats", "privacy", "third"))
    outcome = read_outcome(str(tmp_path), ["in.csv"], OUTPUTS, ("stats", "privacy"))
    assert (outcome.rows_in, outcome.rows_out, outcome.rows_rejected) == (5, 4, 1)
    assert outcome.rows_out_after_privacy == 4
    assert outcome.rejected_by_reason == {"k-anonymity": 1}
    assert outcome.reconciled
