"""What a run wrote: its stats, written by each pass, read back by the launcher before
publishing.

Stats are (key tuple, count) records summed per key into one file per pass,
`_stats/<pass>.jsonl`, written once the pass's bundles have all committed. Among them,
("file", directory, name) records name the Parquet files the committed bundles wrote:
those, and only those, are published; anything else in an output directory was left by
a failed bundle attempt.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import apache_beam as beam
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from pipeline.io import FILE_STAT, write_empty_parquet
from schemas.errors import PseudolabError

STATS_DIR = "_stats"
STATS_SUFFIX = ".jsonl"


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


class OutputsMismatch(PseudolabError):
    """The files on disk disagree with what the pipeline committed."""

    exit_code = 1


class RefusedInPipeline(PseudolabError):
    """A refusal met by a worker (a file unreadable mid-way, a keyring changed)."""

    def __init__(self, exit_code: int, message: str):
        self.exit_code = exit_code
        super().__init__(message)


def _reasons(paths: list[str]) -> dict[str, int]:
    counts: Counter = Counter()
    for path in paths:
        reasons = pq.read_table(path, columns=["reason"]).column("reason")
        for entry in pc.value_counts(reasons).to_pylist():
            counts[entry["values"]] += entry["counts"]
    return dict(sorted(counts.items()))


def write_text_atomically(path: str, text: str) -> None:
    """Write `path` whole or not at all: a temporary name unique to this attempt, renamed
    into place. A retried attempt rewrites the same content."""
    directory = os.path.dirname(path)
    os.makedirs(directory, exist_ok=True)
    temp = os.path.join(directory, f".{os.path.basename(path)}.{uuid.uuid4().hex}.tmp")
    try:
        with open(temp, "w", encoding="utf-8") as handle:
            handle.write(text)
        os.replace(temp, path)
    finally:
        if os.path.exists(temp):
            os.remove(temp)


class _WriteFileFn(beam.DoFn):
    """Each element (one, from a global combine) rendered and written to `path` atomically."""

    def __init__(self, path: str, render: Callable[[object], str]):
        self._path = path
        self._render = render

    def process(self, element):
        write_text_atomically(self._path, self._render(element))


def write_one_file(element, path: str, render: Callable[[object], str], label: str):
    """A PCollection of exactly one element -> the file `path`."""
    return element | label >> beam.ParDo(_WriteFileFn(path, render))


class _SumStatsFn(beam.CombineFn):
    """(key tuple, count) records -> {key: summed count}; {} for no records."""

    def create_accumulator(self) -> Counter:
        return Counter()

    def add_input(self, accumulator: Counter, element) -> Counter:
        key, count = element
        accumulator[tuple(key)] += count
        return accumulator

    def merge_accumulators(self, accumulators) -> Counter:
        merged: Counter = Counter()
        for accumulator in accumulators:
            merged.update(accumulator)
        return merged

    def extract_output(self, accumulator: Counter) -> dict:
        return dict(accumulator)


def _stats_lines(stats: dict) -> str:
    entries = sorted(stats.items(), key=lambda entry: json.dumps(entry[0]))
    return "".join(json.dumps([list(key), count]) + "\n" for key, count in entries)


def write_stats(stats, staging: str, name: str):
    """Sum (key, count) records per key into one file `_stats/<name>.jsonl` (JSON lines of
    [key, count]), written once the whole pass has committed; an empty file for no records."""
    summed = stats | f"Sum {name}" >> beam.CombineGlobally(_SumStatsFn())
    path = os.path.join(staging, STATS_DIR, name + STATS_SUFFIX)
    return write_one_file(summed, path, _stats_lines, f"Write {name}")


def _read_stats(staging: str, names: tuple[str, ...] = ()) -> list[tuple[list, int]]:
    """Every pass's stats; a pass named in `names` that wrote no stats file is an error."""
    directory = os.path.join(staging, STATS_DIR)
    found = sorted(
        name for name in (os.listdir(directory) if os.path.isdir(directory) else ())
        if name.endswith(STATS_SUFFIX) and not name.startswith(".")
    )  # fmt: skip
    missing = [name for name in names if name + STATS_SUFFIX not in found]
    if missing:
        raise OutputsMismatch(f"the pass {missing[0]!r} recorded no stats; nothing published")
    entries = []
    for name in found:
        with open(os.path.join(directory, name), encoding="utf-8") as handle:
            entries.extend(json.loads(line) for line in handle if line.strip())
    return entries


def committed_files(entries, directory: str) -> dict[str, int]:
    """File name -> rows, for the files of `directory` named by committed stats."""
    return {key[2]: count for key, count in entries if key[0] == FILE_STAT and key[1] == directory}


def settle_files(staging: str, directory: str, committed: dict[str, int]) -> list[str]:
    """Keep exactly the committed files of `staging/directory`: anything else there was left
    by a failed bundle attempt and is deleted. A committed file that is missing, or whose
    footer disagrees with its committed row count, is an error. Returns the sorted paths."""
    root = os.path.join(staging, directory)
    present = set(os.listdir(root)) if os.path.isdir(root) else set()
    missing = sorted(set(committed) - present)
    if missing:
        raise OutputsMismatch(
            f"{directory}/{missing[0]} was committed but is missing; nothing published"
        )
    for orphan in sorted(present - set(committed)):
        path = os.path.join(root, orphan)
        if os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path)
        else:
            os.remove(path)
    paths = [os.path.join(root, name) for name in sorted(committed)]
    for path in paths:
        rows = pq.ParquetFile(path).metadata.num_rows
        if rows != committed[os.path.basename(path)]:
            raise OutputsMismatch(
                f"{os.path.relpath(path, staging)} holds {rows} rows, the pipeline committed"
                f" {committed[os.path.basename(path)]}; nothing published"
            )
    return paths


def committed_paths(staging: str, directory: str, passes: tuple[str, ...]) -> list[str]:
    """The settled files `passes` committed to `staging/directory` (see settle_files)."""
    committed = committed_files(_read_stats(staging, passes), directory)
    return settle_files(staging, directory, committed)


def check_refusals(staging: str) -> None:
    """Raise the first refusal the workers recorded, with its exit code."""
    refusals = sorted((key[1], key[2]) for key, _ in _read_stats(staging) if key[0] == "refused")
    if refusals:
        exit_code, message = refusals[0]
        raise RefusedInPipeline(exit_code, f"{message}; nothing published")


def read_outcome(
    staging: str,
    input_paths: list[str],
    outputs: dict[str, pa.Schema],
    passes: tuple[str, ...] = ("stats",),
) -> Outcome:
    """Counts from the reader and transform, and from the Parquet footers of the files the
    passes committed (settle_files checks each footer against the file's committed count,
    so their sum is the rows written). Settles each output directory (`outputs`: name ->
    schema) first: uncommitted files are deleted, and a directory without files gets one
    empty file."""
    entries = _read_stats(staging, passes)
    rows_in = dict.fromkeys(input_paths, 0)
    rows_out_counted = 0
    after_privacy: int | None = None
    flags: dict[str, dict[str, int]] = {}
    for key, count in entries:
        if key[0] == "rows_in":
            rows_in[key[1]] = rows_in.get(key[1], 0) + count
        elif key[0] == "rows_out":
            rows_out_counted += count
        elif key[0] == "rows_out_after_privacy":
            after_privacy = (after_privacy or 0) + count
        elif key[0] == "flag":
            flags.setdefault(key[1], {})[key[2]] = count
    files = {}
    rows = {}
    for directory, schema in outputs.items():
        committed = committed_files(entries, directory)
        paths = settle_files(staging, directory, committed)
        if not paths:
            name = write_empty_parquet(os.path.join(staging, directory), schema)
            paths = [os.path.join(staging, directory, name)]
        files[directory] = paths
        rows[directory] = sum(committed.values())
    data_files, rejected_files = files["data"], files["rejected"]
    return Outcome(
        rows_in_by_input=rows_in,
        rows_out=rows["data"],
        rows_rejected=rows["rejected"],
        rows_out_counted=rows_out_counted,
        rejected_by_reason=_reasons(rejected_files),
        flags=flags,
        data_files=[os.path.relpath(p, staging) for p in data_files],
        rejected_files=[os.path.relpath(p, staging) for p in rejected_files],
        rows_out_after_privacy=after_privacy,
    )


def remove_stats(staging: str) -> None:
    shutil.rmtree(os.path.join(staging, STATS_DIR), ignore_errors=True)
