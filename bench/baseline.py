"""Baseline: the reference policy written directly with pyarrow and `hashlib`, no Beam.

One process, one streaming pass: read only the columns the policy publishes or needs
(CSV with pyarrow's streaming reader, or Parquet by batches), apply the policy's
operations with vectorised pyarrow compute, hash each batch's distinct values once with
a pre-keyed HMAC, write Parquet as it goes. This is the practical limit of this work on
the machine, and the reference output the bench checks pseudolab against, row for row.

Semantics (those of `lab-export-v1`): dates strict (`%d/%m/%Y`, `%d/%m/%Y %H:%M`, a real
calendar day, years 1850 to 2200), a blank is null, a row is rejected for its first
failing column (`invalid-date` on date_naissance, `invalid-datetime` on
date_prelevement, then `birth-after-reference`); tokens of the normalised values
(`exact`, `nir`, `digits`), refused values give a null token and a flag; 5-year age
bands with 90+; département from the INSEE code; "YYYY-MM" of the sampling date.

    python bench/baseline.py --input F.csv|F.parquet --output DIR --keyring K
"""

from __future__ import annotations

import argparse
import base64
import io
import os
import sys
import threading
from collections import Counter

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from common import (
    AGE_LABELS,
    AGE_TOP,
    AGE_WIDTH,
    BIRTH,
    DATE_SHAPE,
    DATETIME_SHAPE,
    GENERALISED,
    INSEE_NONE,
    INSEE_SHAPE,
    KEPT,
    MAX_YEAR,
    MIN_YEAR,
    NEEDED,
    NIR_FLAG,
    NIR_PATTERN,
    NIR_SEPARATORS,
    OUTPUT_SCHEMA,
    REJECTED_SCHEMA,
    RESIDENCE,
    SAMPLED,
    TOKENISED,
    Clock,
    PrekeyedHmac,
    domain_key,
    read_secret,
    report,
)

BLOCK_BYTES = 16 * 1024 * 1024
READ_AHEAD = 3  # blocks pyarrow may read ahead of the batches handed out
PARQUET_BATCH_ROWS = 65_536
_NULL_STR = pa.scalar(None, pa.string())
_DAYS_IN_MONTH = pa.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31], pa.int64())
_LABELS = pa.array(AGE_LABELS, pa.string())


# ------------------------------------------------------------------------- reading


class _Throttled(io.RawIOBase):
    """A file pyarrow's CSV reader may read at most READ_AHEAD blocks ahead of its consumer.

    pyarrow's streaming reader reads up to 32 blocks ahead on a background thread
    (512 MiB with 16 MiB blocks): memory would grow with the file, not the batch.
    """

    def __init__(self, path: str):
        super().__init__()
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._turn = threading.Condition()
        self._reads = self._taken = 0

    def readable(self) -> bool:
        return True

    def took_batch(self) -> None:
        with self._turn:
            self._taken += 1
            self._turn.notify_all()

    def read(self, size: int = -1) -> bytes:
        with self._turn:
            self._turn.wait_for(lambda: self._reads - self._taken <= READ_AHEAD, timeout=30)
            self._reads += 1
        return self._file.read(size)

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._file.close()
        super().close()


def csv_batches(path: str):
    """(record batch of strings, 1-based record numbers) from a ';' CSV, needed columns only."""
    invalid: list[int] = []

    def on_invalid(row: pa_csv.InvalidRow) -> str:
        invalid.append(row.number - 1)  # pyarrow counts the header as record 1
        return "skip"

    source = _Throttled(path)
    reader = pa_csv.open_csv(
        source,
        read_options=pa_csv.ReadOptions(use_threads=False, block_size=BLOCK_BYTES),
        parse_options=pa_csv.ParseOptions(
            delimiter=";", newlines_in_values=True, invalid_row_handler=on_invalid
        ),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in NEEDED},
            include_columns=list(NEEDED),
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    current = 1
    for batch in reader:
        source.took_batch()
        skipped = [n for n in invalid if n >= current]
        if not skipped:
            rows = np.arange(current, current + batch.num_rows, dtype=np.int64)
        else:  # records pyarrow skipped (wrong field count) keep their numbers
            numbers, gaps = [], set(skipped)
            while len(numbers) < batch.num_rows:
                if current not in gaps:
                    numbers.append(current)
                current += 1
            rows = np.array(numbers, dtype=np.int64)
        current = int(rows[-1]) + 1 if len(rows) else current
        yield batch, rows
    source.close()
    yield None, np.array(sorted(invalid), dtype=np.int64)


def parquet_batches(path: str):
    current = 1
    for batch in pq.ParquetFile(path).iter_batches(
        batch_size=PARQUET_BATCH_ROWS, columns=list(NEEDED)
    ):
        rows = np.arange(current, current + batch.num_rows, dtype=np.int64)
        current += batch.num_rows
        yield batch, rows
    yield None, np.array([], dtype=np.int64)


# ------------------------------------------------------------------------- operations


def _ints(text: pa.Array, start: int, stop: int) -> pa.Array:
    return pc.utf8_slice_codeunits(text, start, stop).cast(pa.int64())


def parse_fixed(text: pa.Array, shape: str, with_time: bool):
    """(year, month, day, ok) of trimmed `dd/mm/YYYY[ HH:MM]` text, strictly.

    No strptime: the fixed-width fields are sliced and checked (a real calendar day,
    hours < 24, minutes < 60, years 1850..2200). `ok` is false for null text.
    """
    shaped = pc.fill_null(pc.match_substring_regex(text, shape), False)
    safe = pc.if_else(shaped, text, "01/01/2000 00:00" if with_time else "01/01/2000")
    day, month, year = _ints(safe, 0, 2), _ints(safe, 3, 5), _ints(safe, 6, 10)
    leap = pc.and_(
        pc.equal(pc.subtract(year, pc.multiply(pc.divide(year, 4), 4)), 0),
        pc.or_(
            pc.not_equal(pc.subtract(year, pc.multiply(pc.divide(year, 100), 100)), 0),
            pc.equal(pc.subtract(year, pc.multiply(pc.divide(year, 400), 400)), 0),
        ),
    )
    month_ok = pc.and_(pc.greater_equal(month, 1), pc.less_equal(month, 12))
    days = pc.add(
        _DAYS_IN_MONTH.take(pc.if_else(month_ok, month, 0)),
        pc.and_(leap, pc.equal(month, 2)).cast(pa.int64()),
    )
    checks = [
        shaped,
        month_ok,
        pc.greater_equal(day, 1),
        pc.less_equal(day, days),
        pc.greater_equal(year, MIN_YEAR),
        pc.less_equal(year, MAX_YEAR),
    ]
    if with_time:
        checks += [pc.less_equal(_ints(safe, 11, 13), 23), pc.less_equal(_ints(safe, 14, 16), 59)]
    ok = checks[0]
    for check in checks[1:]:
        ok = pc.and_(ok, check)
    return year, month, day, ok


def _blank_null(values: pa.Array) -> pa.Array:
    text = pc.utf8_trim_whitespace(values)
    return pc.if_else(pc.equal(text, ""), _NULL_STR, text)


def _normalise(values: pa.Array, normaliser: str) -> tuple[pa.Array, pa.Array, str]:
    """(normalised or null, refused mask, reason) of null-free distinct values."""
    if normaliser == "nir":
        cleaned = pc.replace_substring_regex(pc.utf8_upper(values), NIR_SEPARATORS, "")
        valid = pc.match_substring_regex(cleaned, NIR_PATTERN)
        body = pc.utf8_slice_codeunits(cleaned, 0, 13)
        has_key = pc.and_(valid, pc.equal(pc.utf8_length(cleaned), 15))
        digits = pc.replace_substring(pc.replace_substring(body, "2A", "19"), "2B", "18")
        number = pc.if_else(has_key, digits, "0").cast(pa.int64())
        expected = pc.subtract(97, pc.subtract(number, pc.multiply(pc.divide(number, 97), 97)))
        given = pc.if_else(has_key, pc.utf8_slice_codeunits(cleaned, 13, 15), "0")
        key_ok = pc.or_(pc.invert(has_key), pc.equal(expected, given.cast(pa.int64())))
        valid = pc.and_(valid, key_ok)
        return body, pc.invert(valid), "invalid-nir"
    if normaliser == "digits":
        values = pc.replace_substring_regex(values, r"[^0-9]", "")
    return values, pc.equal(pc.utf8_length(values), 0), "empty-after-normalisation"


def _hash_strings(mac: PrekeyedHmac, values: pa.Array) -> pa.Array:
    """Tokens of a null-free string array, straight from and into Arrow buffers."""
    count = len(values)
    values = pa.concat_arrays([values])  # zero offset
    offsets = np.frombuffer(values.buffers()[1], dtype=np.int32, count=count + 1).tolist()
    data = values.buffers()[2]
    data = data.to_pybytes() if data is not None else b""
    digests = mac.digests([data[offsets[i] : offsets[i + 1]] for i in range(count)])
    text = base64.b32encode(digests).lower()
    token_offsets = np.arange(0, (count + 1) * 24, 24, dtype=np.int32)
    return pa.StringArray.from_buffers(count, pa.py_buffer(token_offsets), pa.py_buffer(text))


def tokenise(mac: PrekeyedHmac, values: pa.Array, normaliser: str):
    """(tokens, refused per row, reason): each distinct value normalised and hashed once."""
    encoded = values.dictionary_encode()
    normal, refused, reason = _normalise(encoded.dictionary, normaliser)
    good = pc.invert(refused)
    hashed = _hash_strings(mac, normal.filter(good))
    good_np = good.to_numpy(zero_copy_only=False)
    position = np.cumsum(good_np) - 1
    mapping = pa.array(position, mask=~good_np)  # null for refused values
    tokens = hashed.take(mapping).take(encoded.indices)
    refused_rows = pc.fill_null(refused.take(encoded.indices), False)
    return tokens, refused_rows, reason


def departement(values: pa.Array) -> tuple[pa.Array, pa.Array]:
    """(département or null, flagged) per row, computed on the distinct codes."""
    encoded = values.dictionary_encode()
    code = pc.utf8_upper(pc.utf8_trim_whitespace(encoded.dictionary))
    blank = pc.equal(code, "")
    valid = pc.and_(
        pc.match_substring_regex(code, INSEE_SHAPE),
        pc.invert(pc.match_substring_regex(code, INSEE_NONE)),
    )
    overseas = pc.match_substring_regex(code, r"^9[78]")
    derived = pc.if_else(
        overseas, pc.utf8_slice_codeunits(code, 0, 3), pc.utf8_slice_codeunits(code, 0, 2)
    )
    result = pc.if_else(valid, derived, _NULL_STR).take(encoded.indices)
    flagged = pc.and_(pc.invert(valid), pc.invert(blank)).take(encoded.indices)
    return result, pc.fill_null(flagged, False)


class Baseline:
    def __init__(self, secret: bytes):
        self.macs = {
            domain: PrekeyedHmac(domain_key(secret, domain)) for _, domain, _, _ in TOKENISED
        }
        self.flags: Counter = Counter()

    def apply(self, batch: pa.RecordBatch, rows: np.ndarray):
        """(published record batch, rejected table) of one batch."""
        birth_text = _blank_null(batch.column(BIRTH))
        sampled_text = _blank_null(batch.column(SAMPLED))
        by, bm, bd, birth_ok = parse_fixed(birth_text, DATE_SHAPE, with_time=False)
        ry, rm, rd, sampled_ok = parse_fixed(sampled_text, DATETIME_SHAPE, with_time=True)
        bad_birth = pc.and_(pc.is_valid(birth_text), pc.invert(birth_ok))
        bad_sampled = pc.and_(pc.is_valid(sampled_text), pc.invert(sampled_ok))
        birth_md = pc.add(pc.multiply(bm, 100), bd)
        sampled_md = pc.add(pc.multiply(rm, 100), rd)
        both = pc.and_(birth_ok, sampled_ok)
        after = pc.and_(
            both,
            pc.greater(
                pc.add(pc.multiply(by, 10_000), birth_md),
                pc.add(pc.multiply(ry, 10_000), sampled_md),
            ),
        )
        rejected = pc.or_(pc.or_(bad_birth, bad_sampled), after)

        bad = pc.indices_nonzero(rejected)
        rejected_table = None
        if len(bad):
            column = pc.if_else(pc.invert(bad_birth).take(bad), pa.scalar(SAMPLED), BIRTH)
            column = pc.if_else(after.take(bad), pa.scalar(BIRTH), column)
            reason = pc.if_else(bad_birth.take(bad), "invalid-date", "invalid-datetime")
            reason = pc.if_else(after.take(bad), pa.scalar("birth-after-reference"), reason)
            rejected_table = pa.table(
                [pa.array(rows).take(bad), column, reason], schema=REJECTED_SCHEMA
            )
            keep = pc.invert(rejected)
            batch = batch.filter(keep)
            by, bm, ry, both = by.filter(keep), bm.filter(keep), ry.filter(keep), both.filter(keep)
            birth_md, sampled_md = birth_md.filter(keep), sampled_md.filter(keep)
            sampled_text = sampled_text.filter(keep)

        out: dict[str, pa.Array] = {}
        for column, domain, normaliser, output in TOKENISED:
            tokens, refused, reason = tokenise(self.macs[domain], batch.column(column), normaliser)
            out[output] = tokens
            self._count(reason, column, refused)
            if normaliser == "nir":
                out[NIR_FLAG] = refused
        for column in KEPT:
            out[column] = batch.column(column)

        age = pc.subtract(pc.subtract(ry, by), pc.less(sampled_md, birth_md).cast(pa.int64()))
        band = pc.if_else(
            pc.greater_equal(age, AGE_TOP), len(AGE_LABELS) - 1, pc.divide(age, AGE_WIDTH)
        )
        band = pc.if_else(both, band, pa.scalar(None, pa.int64()))
        out[GENERALISED[BIRTH]] = _LABELS.take(band)
        dep, flagged = departement(batch.column(RESIDENCE))
        out[GENERALISED[RESIDENCE]] = dep
        self._count("invalid-insee-code", RESIDENCE, flagged)
        out[GENERALISED[SAMPLED]] = pc.binary_join_element_wise(
            pc.utf8_slice_codeunits(sampled_text, 6, 10),
            pc.utf8_slice_codeunits(sampled_text, 3, 5),
            "-",
        )
        data = pa.RecordBatch.from_arrays(
            [out[field.name] for field in OUTPUT_SCHEMA], schema=OUTPUT_SCHEMA
        )
        return data, rejected_table

    def _count(self, code: str, column: str, mask: pa.Array) -> None:
        flagged = pc.sum(mask).as_py() or 0
        if flagged:
            self.flags[(code, column)] += flagged


def run(input_path: str, output: str, keyring: str) -> dict:
    baseline = Baseline(read_secret(keyring))
    os.makedirs(output, exist_ok=True)
    if input_path.endswith(".parquet"):
        batches = parquet_batches(input_path)
    else:
        batches = csv_batches(input_path)
    rows_in = rows_out = 0
    rejected_parts = []
    with pq.ParquetWriter(
        os.path.join(output, "data.parquet"), OUTPUT_SCHEMA, compression="snappy"
    ) as writer:
        for batch, rows in batches:
            if batch is None:  # the end: records the CSV reader could not split
                if len(rows):
                    rejected_parts.append(
                        pa.table(
                            [
                                pa.array(rows),
                                pa.nulls(len(rows), pa.string()),
                                pa.array(["wrong-field-count"] * len(rows), pa.string()),
                            ],
                            schema=REJECTED_SCHEMA,
                        )
                    )
                    rows_in += len(rows)
                break
            rows_in += batch.num_rows
            data, rejected = baseline.apply(batch, rows)
            if data.num_rows:
                writer.write_batch(data)
            rows_out += data.num_rows
            if rejected is not None:
                rejected_parts.append(rejected)
    rejected = pa.concat_tables(rejected_parts) if rejected_parts else REJECTED_SCHEMA.empty_table()
    pq.write_table(rejected, os.path.join(output, "rejected.parquet"))
    flags: dict[str, dict[str, int]] = {}
    for (code, column), count in sorted(baseline.flags.items()):
        flags.setdefault(code, {})[column] = count
    return {
        "rows_in": rows_in,
        "rows_out": rows_out,
        "rows_rejected": rejected.num_rows,
        "flags": flags,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--input", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--keyring", required=True)
    args = parser.parse_args()
    clock = Clock()
    stats = run(args.input, args.output, args.keyring)
    report(work_s=clock.elapsed(), **stats)


if __name__ == "__main__":
    main()
