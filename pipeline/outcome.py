"""What a run wrote, read back from the staging directory before publishing."""

from __future__ import annotations

import glob
import json
import os
import shutil
from collections import Counter
from dataclasses import dataclass, field

import apache_beam as beam
import pyarrow.compute as pc
import pyarrow.parquet as pq

from schemas.errors import PseudolabError

STATS_DIR = "_stats"


@dataclass
class Outcome:
    rows_in_by_input: dict[str, int]
    rows_out: int
    rows_rejected: int
    rows_out_counted: int  # by the transform, checked against the files
    rejected_by_reason: dict[str, int]
    flags: dict[str, dict[str, int]]
    data_files: list[str] = field(default_factory=list)
    rejected_files: list[str] = field(default_factory=list)

    @property
    def rows_in(self) -> int:
        return sum(self.rows_in_by_input.values())

    rows_out_after_privacy: int | None = None  # counted by the privacy pass, if any

    @property
    def reconciled(self) -> bool:
        counted = (
            self.rows_out_counted
            if self.rows_out_after_privacy is None
            else self.rows_out_after_privacy
        )
        return self.rows_in == self.rows_out + self.rows_rejected and self.rows_out == counted

    @property
    def input_rejected_ratio(self) -> float:
        """Rows rejected for input problems; privacy suppression has its own cap."""
        problems = self.rows_rejected - self.rejected_by_reason.get("k-anonymity", 0)
        return problems / self.rows_in if self.rows_in else 0.0


def _parquet_rows(paths: list[str]) -> int:
    return sum(pq.ParquetFile(path).metadata.num_rows for path in paths)


def _reasons(paths: list[str]) -> dict[str, int]:
    counts: Counter = Counter()
    for path in paths:
        reasons = pq.read_table(path, columns=["reason"]).column("reason")
        for entry in pc.value_counts(reasons).to_pylist():
            counts[entry["values"]] += entry["counts"]
    return dict(sorted(counts.items()))


def write_stats(stats, staging: str, name: str):
    """Sum (key, count) records per key and write them as JSON lines under _stats/."""
    return (
        stats
        | "Sum stats" >> beam.CombinePerKey(sum)
        | "Stats as JSON" >> beam.Map(lambda entry: json.dumps([list(entry[0]), entry[1]]))
        | "Write stats"
        >> beam.io.WriteToText(os.path.join(staging, STATS_DIR, name), file_name_suffix=".jsonl")
    )


def _read_stats(staging: str) -> list[tuple[list, int]]:
    entries = []
    for path in sorted(glob.glob(os.path.join(staging, STATS_DIR, "*"))):
        with open(path, encoding="utf-8") as handle:
            entries.extend(json.loads(line) for line in handle if line.strip())
    return entries


class RefusedInPipeline(PseudolabError):
    """A refusal met by a worker (a file unreadable mid-way, a keyring changed)."""

    def __init__(self, exit_code: int, message: str):
        self.exit_code = exit_code
        super().__init__(message)


def check_refusals(staging: str) -> None:
    """Raise the first refusal the workers recorded, with its exit code."""
    refusals = sorted((key[1], key[2]) for key, _ in _read_stats(staging) if key[0] == "refused")
    if refusals:
        exit_code, message = refusals[0]
        raise RefusedInPipeline(exit_code, f"{message}; nothing published")


def read_outcome(staging: str, input_paths: list[str]) -> Outcome:
    """Counts from the reader and transform, and from the Parquet footers actually written."""
    rows_in = dict.fromkeys(input_paths, 0)
    rows_out_counted = 0
    after_privacy: int | None = None
    flags: dict[str, dict[str, int]] = {}
    for key, count in _read_stats(staging):
        if key[0] == "rows_in":
            rows_in[key[1]] = rows_in.get(key[1], 0) + count
        elif key[0] == "rows_out":
            rows_out_counted += count
        elif key[0] == "rows_out_after_privacy":
            after_privacy = (after_privacy or 0) + count
        elif key[0] == "flag":
            flags.setdefault(key[1], {})[key[2]] = count
    data_files = sorted(glob.glob(os.path.join(staging, "data", "*.parquet")))
    rejected_files = sorted(glob.glob(os.path.join(staging, "rejected", "*.parquet")))
    return Outcome(
        rows_in_by_input=rows_in,
        rows_out=_parquet_rows(data_files),
        rows_rejected=_parquet_rows(rejected_files),
        rows_out_counted=rows_out_counted,
        rejected_by_reason=_reasons(rejected_files),
        flags=flags,
        data_files=[os.path.relpath(p, staging) for p in data_files],
        rejected_files=[os.path.relpath(p, staging) for p in rejected_files],
        rows_out_after_privacy=after_privacy,
    )


def remove_stats(staging: str) -> None:
    shutil.rmtree(os.path.join(staging, STATS_DIR), ignore_errors=True)
