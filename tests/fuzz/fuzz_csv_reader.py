"""Coverage-guided fuzz target (atheris / libFuzzer) for the CSV reader.

Run from the repository root, in the project's virtual environment::

    python tests/fuzz/fuzz_csv_reader.py -max_total_time=120
    python tests/fuzz/fuzz_csv_reader.py -max_total_time=600 -max_len=4096 my-corpus/

Without a corpus directory the target seeds itself (a small synthetic export and some
awkward records, in $TMPDIR/pseudolab-fuzz-csv-UID, replaced at each start: name a
directory to keep the corpus it grows) and adds a dictionary of CSV tokens. libFuzzer
options pass through (`-runs=`, `-jobs=`, `-max_len=`, `-timeout=`...). A failure
writes `crash-*` in the current directory; replay it with
``python tests/fuzz/fuzz_csv_reader.py crash-...`` and keep it as a regression test in
tests/unit/test_readers.py.

Each input is one option byte (delimiter, encoding, batch size) and the bytes of a CSV
file. The target reads the header with `read_header`, then every record with
`iter_batches` twice (with the fuzzed batch size and with the default) and checks:

- the only exception is a `PseudolabError` (a refusal); anything else is a crash;
- both reads give the same records, numbers and rejections (chunking changes nothing),
  and a third, of every other column, the same numbers, rejections and values;
- a file whose header `read_header` refuses (as the preflight does) gives no record;
- every record is accounted for once: the record numbers of the rows and of the
  rejections are exactly 1..N, and each batch holds the requested string columns;
- when the file has no quote at all (so that a record is a non-empty line), N is the
  number of non-empty lines after the header.
"""

from __future__ import annotations

import os
import re
import sys

import atheris

with atheris.instrument_imports():
    import pyarrow as pa

    from pipeline import readers
    from schemas.errors import ROW_REASONS, PseudolabError

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _seeds import scratch_file, with_seeds

BATCH_BYTES = (1, 7, 64, 4096, readers.DEFAULT_BATCH_BYTES)
PATH = scratch_file(".csv")
_LINE_ENDS = re.compile(rb"\r\n|\r|\n")


def _read(columns: list[str], options: dict, batch_bytes: int, read: list[str] | None = None):
    records: list[tuple] = []
    numbers: list[int] = []
    rejected: list[tuple[int, str]] = []
    for batch in readers.iter_batches(
        PATH, "csv", columns=columns, read_columns=read, batch_bytes=batch_bytes, **options
    ):
        assert batch.table.schema.names == (read or columns), "columns as requested"
        assert all(t == pa.string() for t in batch.table.schema.types), "strings only"
        assert len(batch.rows) == batch.table.num_rows
        assert batch.table.num_rows or batch.rejected, "no empty batch"
        assert all(code in ROW_REASONS for _, code in batch.rejected)
        records.extend(tuple(row.values()) for row in batch.table.to_pylist())
        numbers.extend(batch.rows.to_pylist())
        rejected.extend(batch.rejected)
    return records, numbers, rejected


def _expected_records(content: bytes, encoding: str) -> int | None:
    """Records in a file without quotes: the non-empty lines after the header line."""
    if b'"' in content:
        return None
    if encoding == "utf-8":
        content = content.removeprefix(b"\xef\xbb\xbf")  # a BOM only counts at the start
    lines = [line for line in _LINE_ENDS.split(content) if line]
    return max(len(lines) - 1, 0)


def TestOneInput(data: bytes) -> None:
    if not data:
        return
    option, content = data[0], data[1:]
    options = {
        "delimiter": ",;\t|"[option & 3],
        "encoding": "cp1252" if option & 4 else "utf-8",
    }
    batch_bytes = BATCH_BYTES[(option >> 3) % len(BATCH_BYTES)]
    with open(PATH, "wb") as handle:
        handle.write(content)
    try:
        header = readers.read_header(PATH, "csv", **options)
    except PseudolabError:
        header = None
    columns = list(dict.fromkeys(header)) if header else ["a"]
    try:
        small = _read(columns, options, batch_bytes)
    except PseudolabError:
        return
    whole = _read(columns, options, readers.DEFAULT_BATCH_BYTES)
    assert small == whole, "the batch size changed the records"
    some = _read(columns, options, batch_bytes, read=columns[::2])
    assert some[1:] == whole[1:], "reading some columns changed the numbers or rejections"
    assert some[0] == [record[::2] for record in whole[0]], "reading some columns changed them"
    _records, numbers, rejected = whole
    counted = sorted(numbers + [number for number, _ in rejected])
    if header is None:  # what the preflight refuses holds no record
        assert not counted, "records in a file whose header was refused"
        return
    assert len(set(header)) == len(header), "read a file with a repeated column name"
    assert counted == list(range(1, len(counted) + 1)), "records are numbered 1..N once"
    expected = _expected_records(content, options["encoding"])
    if expected is not None:
        assert len(counted) == expected, f"{len(counted)} records, {expected} lines"


# Seeds: an option byte (bits 0-1 the delimiter ",;\t|", bit 2 cp1252, the rest the batch
# size), then the file.
_SEEDS = {
    "sample": b"\x11"  # ";", utf-8, batches of 64 bytes
    + b"numero_dossier;nir;nom;date;commentaire\n"
    + b'D1;1 84 05 56 260 123 09;DUPONT;17/05/1984;"a;b\nc""d"\n'
    + b'D2;;LE GALL;31/02/1984;x\r\nD3;2A;O"Neil;;\n\n'
    + "D4;é;É;€;\n".encode()
    + b"D5;\xe9;\x00;\xff;\n",
    "crlf": b'\x08a,b\r\n1,2\r\n"x\r\ny",3\r\n4\r\n',
    "cr": b'\x01a;b\r1;"x\ry"\r2;z\r3\r4;w',
    "cp1252": b"\x05pr\xe9nom;ann\xe9e\n\xe9;\x81\n",
    "bom": b'\x09\xef\xbb\xbfa;b\n"";""""\n',
    "unclosed": b'\x11a;b\n1;"open\n2;3\n',
}
_TOKENS = [
    b'"',
    b'""',
    b";",
    b",",
    b"\r\n",
    b"\r",
    b"\n",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xef\xbf\xbf",
    b"\xe9",
    b"\xc3\xa9",
    b"\xed\xa0\x80",
    b"\xf0\x9f\x98\x80",
    b'";"',
    b'"\n"',
]


if __name__ == "__main__":
    atheris.Setup(with_seeds("csv", sys.argv, _SEEDS, _TOKENS), TestOneInput)
    atheris.Fuzz()
