"""Input readers: CSV, Parquet and JSON Lines files as streams of Arrow record batches.

Pure Python and pyarrow, no Beam: a DoFn calls `iter_batches` once per input file and
turns each `RawBatch` into pipeline elements.

Every record of a file ends either as a row of a batch's `table` or as an entry of its
`rejected` tuple (record number and reason code, never values), so that for a file
``sum(len(b.table)) + sum(len(b.rejected))`` is its number of data records. Record
numbers are unique and increase from batch to batch.

CSV is read here in chunks of whole records, each parsed by pyarrow in memory on one
thread (not the caller's: CSV and Parquet batches are read one ahead, see
`read_ahead`), the columns asked for as strings (an empty field is null). The bytes pyarrow sees
are valid UTF-8 without NUL: pyarrow 25 mis-splits records around a NUL, and a bad byte
must reject its record, not the file. A sentinel record after each chunk proves that
pyarrow ends it outside a quoted field.

Nothing read from a file reaches an error message: pyarrow, OS and codec errors are
replaced by an `InputError` with a short reason written here, raised outside the
``except`` block so that the original message (which often quotes the offending row)
is neither the cause nor the context of the error.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import operator
import os
import re
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from pipeline.read_ahead import read_ahead
from schemas.errors import InputError, UsageError

FORMATS = ("csv", "parquet", "jsonl")

#: Target size of one batch (for CSV, of the chunk of file parsed at once: a chunk grows
#: as needed to hold a long record).
DEFAULT_BATCH_BYTES = 16 * 1024 * 1024
#: Largest CSV chunk; a record longer than this makes the file unreadable.
MAX_CHUNK_BYTES = 256 * 1024 * 1024
#: Most bytes read to find a CSV header.
HEADER_LIMIT_BYTES = 1024 * 1024
#: Most records in one JSON Lines batch, whatever their size.
_MAX_JSONL_ROWS = 16_384

_EXTENSIONS = {
    ".csv": "csv",
    ".txt": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".json": "jsonl",
}

# Errors that mean "this file cannot be read"; each is replaced by an InputError.
# pyarrow's ArrowInvalid is a ValueError, ArrowIOError an OSError.
_READ_ERRORS = (pa.ArrowException, OSError, ValueError, UnicodeError, csv.Error, EOFError)

# Surrogates: bytes a decoder could not read, as the "surrogateescape" handler spells them
# (or lone surrogates some decoders let through). Not text: refused in a CSV header,
# turned into the marker below in CSV data.
_SURROGATES = re.compile("[\ud800-\udfff]")

# What a CSV stream shows pyarrow in place of a NUL byte or of bytes that are not text:
# U+FFFF, a Unicode noncharacter (for internal use, never interchanged). pyarrow 25's
# SSE4.2 lexer must never see a NUL: it treats it as the end of an 8-byte word and then
# misses the quotes, delimiters and newlines around it, silently merging or losing
# records (apache/arrow#50481). A record holding the marker is rejected.
_MARK = "\uffff"
_MARK_BYTES = _MARK.encode("utf-8")

_UTF8 = "utf-8"

# A column name safe to quote in a message; other names are shown by position.
_SHOWN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,63}")


@dataclass(frozen=True)
class RawBatch:
    """Records read from one file, as strings (CSV, JSON Lines) or native types (Parquet).

    `table` holds one column per requested name, in the requested order; `rows` the
    1-based record number of each of its rows; `rejected` the (record number, row reason
    code) of records that could not be read, in increasing order, and never values.
    """

    table: pa.RecordBatch
    rows: pa.Array
    rejected: tuple[tuple[int, str], ...]


# --------------------------------------------------------------------------- helpers


def _unreadable(path: str, fmt: str, reason: str) -> InputError:
    return InputError("unreadable-input", path=path, format=fmt, reason=reason)


def _call(fn: Callable[[], object]) -> tuple[object, BaseException | None]:
    """Run `fn`; return (result, None), or (None, the read error) if it failed.

    The caller raises its own value-free error after this returns, outside any
    ``except`` block, so the original exception is not chained to it.
    """
    try:
        return fn(), None
    except (*_READ_ERRORS, StopIteration) as exc:
        return None, exc


def _encoding_name(encoding: str) -> str:
    try:
        name = codecs.lookup(encoding).name
    except LookupError:
        name = None
    if name is None:
        raise UsageError(f"unknown encoding '{encoding}'")
    return _UTF8 if name in (_UTF8, "utf-8-sig") else name


def _check_delimiter(delimiter: str) -> None:
    if len(delimiter) != 1 or not delimiter.isascii() or delimiter in '"\r\n':
        raise UsageError(
            "the CSV delimiter must be one ASCII character other than a quote or newline"
        )


def _check_columns(columns: Sequence[str]) -> list[str]:
    names = list(columns)
    if not names or len(set(names)) != len(names):
        raise ValueError("columns must be a non-empty sequence of distinct names")
    return names


def _check_header(path: str, header: list[str], columns: list[str]) -> None:
    """Refuse a file whose header is not exactly the requested column set."""
    seen: set[str] = set()
    for name in header:
        if name in seen:
            raise InputError("duplicate-header", path=path, column=name)
        seen.add(name)
    for name in columns:
        if name not in seen:
            raise InputError("missing-column", path=path, column=name)
    wanted = set(columns)
    for name in header:
        if name not in wanted:
            raise InputError("unknown-column", path=path, column=name)


def _empty_file(path: str, fmt: str) -> bool:
    size, err = _call(lambda: os.path.getsize(path))
    if err is not None:
        raise _unreadable(path, fmt, "the file cannot be opened") from None
    return size == 0


def _has_nul(column: pa.Array) -> bool:
    """Whether the data buffer behind a string column holds a NUL byte (fast, no copy)."""
    buffers = column.buffers()
    if len(column) == 0 or buffers[2] is None:
        return False
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    offsets = np.frombuffer(buffers[1], dtype=width, count=column.offset + len(column) + 1)
    start = int(offsets[column.offset])
    end = int(offsets[column.offset + len(column)])
    if end <= start:
        return False
    data = np.frombuffer(buffers[2], dtype=np.uint8, count=end - start, offset=start)
    return not bool(data.all())


def _bad_text_rows(column: pa.Array, check_utf8: bool) -> list[int]:
    """Indices of the values of a string column that are not valid UTF-8 or hold NUL."""
    if not (pa.types.is_string(column.type) or pa.types.is_large_string(column.type)):
        return []
    suspect = False
    if check_utf8:
        _, err = _call(lambda: column.validate(full=True))
        suspect = err is not None
    if not suspect and not _has_nul(column):
        return []
    binary = pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary()
    bad = []
    for index, value in enumerate(column.view(binary).to_pylist()):
        if value is None:
            continue
        if b"\x00" in value:
            bad.append(index)
            continue
        try:
            value.decode(_UTF8)
        except UnicodeDecodeError:
            bad.append(index)
    return bad


def _marked_rows(column: pa.Array) -> list[int]:
    """Indices of the values of a CSV string column that hold the marker."""
    found = pc.match_substring(column, _MARK).fill_null(False)
    if not pc.any(found).as_py():
        return []
    return np.flatnonzero(found.to_numpy(zero_copy_only=False)).tolist()


def _drop_bad_text(
    table: pa.RecordBatch,
    rows: np.ndarray,
    rejected: list[tuple[int, str]],
    find: Callable[[pa.Array], list[int]],
) -> tuple[pa.RecordBatch, np.ndarray, list[tuple[int, str]]]:
    """Move rows with a field that is not valid text to `rejected` ("invalid-encoding").

    `find` gives the indices of the bad values of one column.
    """
    bad: set[int] = set()
    for column in table.columns:
        bad.update(find(column))
    if not bad:
        return table, rows, rejected
    keep = np.ones(len(rows), dtype=bool)
    keep[sorted(bad)] = False
    rejected = sorted(
        rejected + [(int(rows[i]), "invalid-encoding") for i in sorted(bad)],
    )
    return table.filter(pa.array(keep)), rows[keep], rejected


def _not_text(column: pa.Array) -> list[int]:
    return _bad_text_rows(column, check_utf8=True)


def _nul_text(column: pa.Array) -> list[int]:
    return _bad_text_rows(column, check_utf8=False)


def _raw_batch(
    table: pa.RecordBatch, rows: np.ndarray, rejected: list[tuple[int, str]]
) -> RawBatch:
    return RawBatch(table, pa.array(rows, type=pa.int64()), tuple(rejected))


# --------------------------------------------------------------------------- public API


def detect_format(path: str, explicit: str | None = None) -> str:
    """The format of `path`: `explicit` if given, else from the file name extension."""
    if explicit is not None:
        fmt = explicit.strip().lower()
        if fmt not in FORMATS:
            raise UsageError(f"unknown input format '{explicit}' (expected one of {FORMATS})")
        return fmt
    ext = os.path.splitext(path)[1].lower()
    fmt = _EXTENSIONS.get(ext)
    if fmt is None:
        raise _unreadable(
            path,
            "csv, parquet or jsonl",
            f"unknown file extension '{ext}' (name the format explicitly)",
        )
    return fmt


def read_header(path: str, fmt: str, *, delimiter: str = ";", encoding: str = "utf-8") -> list[str]:
    """Raw column names of a file in file order, duplicates kept.

    CSV: the first record (blank lines before it skipped, BOM stripped). Parquet: the
    schema's top-level names. JSON Lines: the keys of the first non-blank line's object.

    A file without a header, or with a header and no record after it (CSV: nothing but
    line ends; Parquet: no row), is refused as `empty-input`: an export cut short after
    its header must not publish an empty data set as if the night had no results.
    A Parquet column of nested values (list, struct, map) is refused as unreadable.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown input format '{fmt}'")
    if _empty_file(path, fmt):
        raise InputError("empty-input", path=path)
    if fmt == "csv":
        _check_delimiter(delimiter)
        header, has_records = _csv_header_and_rest(path, delimiter, _encoding_name(encoding))
        if not has_records:
            raise InputError("empty-input", path=path)
        return header
    if fmt == "parquet":
        header = _parquet_header(path)
        if _parquet_rows(path) == 0:
            raise InputError("empty-input", path=path)
        return header
    return _jsonl_header(path, _encoding_name(encoding))


def iter_batches(
    path: str,
    fmt: str,
    *,
    columns: Sequence[str],
    read_columns: Sequence[str] | None = None,
    delimiter: str = ";",
    encoding: str = "utf-8",
    batch_bytes: int = DEFAULT_BATCH_BYTES,
) -> Iterator[RawBatch]:
    """Stream the records of one file as `RawBatch`es holding `read_columns` (by default
    every one of `columns`, the names the file must have).

    A file that cannot be read raises `InputError` (possibly after some batches were
    yielded: the run then fails and publishes nothing); a record that cannot be read is
    rejected with a row reason code. In CSV and JSON Lines every field is checked, read
    or not: a record with a field that is not text is rejected whichever column holds
    it (in CSV such bytes may mean the file is not in the declared encoding). Parquet
    stores typed values: only the columns read are decoded and checked.
    """
    if fmt not in FORMATS:
        raise UsageError(f"unknown input format '{fmt}'")
    names = _check_columns(columns)
    wanted = names if read_columns is None else _check_columns(read_columns)
    if not set(wanted) <= set(names):
        raise ValueError("read_columns must be among columns")
    if batch_bytes < 1:
        raise ValueError("batch_bytes must be positive")
    if fmt == "csv":
        _check_delimiter(delimiter)
        return read_ahead(
            _iter_csv(path, names, wanted, delimiter, _encoding_name(encoding), batch_bytes)
        )
    if fmt == "parquet":
        return read_ahead(_iter_parquet(path, names, wanted, batch_bytes))
    batches = _iter_jsonl(path, names, _encoding_name(encoding), batch_bytes)
    return batches if wanted == names else _selected(batches, wanted)


def _selected(batches: Iterator[RawBatch], columns: list[str]) -> Iterator[RawBatch]:
    for raw in batches:
        yield RawBatch(raw.table.select(columns), raw.rows, raw.rejected)


# --------------------------------------------------------------------------- CSV


def _csv_header(path: str, delimiter: str, encoding: str) -> list[str]:
    return _csv_header_and_rest(path, delimiter, encoding)[0]


def _csv_header_and_rest(path: str, delimiter: str, encoding: str) -> tuple[list[str], bool]:
    """The header's names, and whether anything but line ends follows the header."""

    def head() -> tuple[bytes, bool]:
        with open(path, "rb") as f:
            data = f.read(HEADER_LIMIT_BYTES)
            return data, f.read(1) == b""

    result, err = _call(head)
    if err is not None:
        raise _unreadable(path, "csv", "the file cannot be opened") from None
    data, at_eof = result  # type: ignore[misc]
    # Only the header must be valid text: bytes a decoder cannot read become surrogates,
    # refused below if the header holds any.
    not_text = _unreadable(path, "csv", f"the header is not valid {encoding} text")
    decoder = codecs.getincrementaldecoder(encoding)("surrogateescape")
    text, err = _call(lambda: decoder.decode(data, final=at_eof))
    if err is not None:
        raise not_text from None
    assert isinstance(text, str)
    if encoding == _UTF8:
        text = text.removeprefix("\ufeff")
    stream = io.StringIO(text, newline="")
    reader = csv.reader(stream, delimiter=delimiter, quotechar='"', doublequote=True, strict=True)

    def first_record() -> list[str] | None:
        for record in reader:
            if record:
                return record
        return None

    header, err = _call(first_record)
    if err is not None:
        raise _unreadable(
            path, "csv", "the header is not valid CSV (a quoted name is not closed?)"
        ) from None
    if not at_eof and stream.tell() >= len(text):
        raise _unreadable(path, "csv", f"no header within the first {HEADER_LIMIT_BYTES} bytes")
    if header is None:
        raise InputError("empty-input", path=path)
    names = list(header)  # type: ignore[arg-type]
    if any("\x00" in name or _SURROGATES.search(name) for name in names):
        raise not_text from None
    rest = text[stream.tell() :]
    return names, not at_eof or bool(rest.strip("\r\n"))


def _utf8_complete(data: bytes) -> int:
    """Length of the prefix of `data` that does not end in the middle of a UTF-8 sequence."""
    n = len(data)
    for i in range(n - 1, max(n - 4, -1), -1):
        byte = data[i]
        if byte < 0x80:
            return n
        if byte >= 0xC0:
            need = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
            return i if n - i < need else n
    return n


def _is_utf8(data: bytes) -> bool:
    """Whether `data` is valid UTF-8 (Arrow's validation: faster than a Python decode, and
    for `string` six times faster than for `large_string`)."""
    small = len(data) < 2**31
    offsets = pa.array([0, len(data)], type=pa.int32() if small else pa.int64()).buffers()[1]
    kind = pa.string() if small else pa.large_string()
    text = pa.Array.from_buffers(kind, 1, [None, offsets, pa.py_buffer(data)])
    _, err = _call(lambda: text.validate(full=True))
    return err is None


class _CleanText:
    """A CSV file read as clean UTF-8, for pyarrow.

    Other encodings are transcoded. NUL bytes and bytes that are not valid text in the
    encoding become the marker U+FFFF, which rejects their record ("invalid-encoding")
    without disturbing the parse (delimiters, quotes and newlines are ASCII) and keeps
    every row pyarrow hands to the invalid-row handler decodable. `marked` tells whether
    the marker appeared so far: only then are batches searched for it.
    """

    def __init__(self, path: str, encoding: str):
        self._file = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._decoder = (
            None if encoding == _UTF8 else codecs.getincrementaldecoder(encoding)("surrogateescape")
        )
        self._carry = b""
        self.eof = False
        self.marked = False

    def close(self) -> None:
        self._file.close()

    def read(self, size: int) -> bytes:
        """About `size` more bytes (whole characters only), or the last ones at the end."""
        raw = self._file.read(size)
        self.eof = not raw
        return self._clean(raw, final=self.eof)

    def _clean(self, raw: bytes, final: bool) -> bytes:
        text = None
        if self._decoder is not None:
            text = self._decoder.decode(raw, final)
        else:
            data = self._carry + raw if self._carry else raw
            cut = len(data) if final else _utf8_complete(data)
            data, self._carry = data[:cut], data[cut:]
            if not _is_utf8(data):
                text = data.decode(_UTF8, "surrogateescape")
        if text is not None:
            try:
                data = text.encode(_UTF8)
            except UnicodeEncodeError:
                data = _SURROGATES.sub(_MARK, text).encode(_UTF8)
        if b"\x00" in data:
            data = data.replace(b"\x00", _MARK_BYTES)
        # Searching for one byte is fast, for three much slower: 0xEF is rare in text.
        if not self.marked and b"\xef" in data and _MARK_BYTES in data:
            self.marked = True
        return data


def _line_ends(data: bytes) -> Iterator[tuple[int, int]]:
    """Backwards from the end: (offset just after a line end, parity of the quotes before).

    A CR followed by LF is not a line end of its own, nor a CR ending `data` (an LF may
    follow it).
    """
    total = data.count(b'"')
    end = len(data)
    after = 0  # quotes from the line end found last to the end of data
    lf, cr = data.rfind(b"\n"), data.rfind(b"\r")  # each searched again only once passed
    while True:
        p = max(lf, cr)
        if p < 0:
            return
        after += data.count(b'"', p + 1, end)
        end = p
        if p == lf:
            lf = data.rfind(b"\n", 0, p)
        else:
            cr = data.rfind(b"\r", 0, p)
            if p + 1 == len(data) or data[p + 1] == 0x0A:
                continue
        yield p + 1, (total - after) & 1


def _cuts(data: bytes) -> Iterator[int]:
    """Where a chunk of CSV may end: at most two offsets, the likelier first.

    `data` starts at a record boundary. Counting quotes from there tells exactly which
    line ends are outside quoted fields when the CSV is well formed: the last line end
    after an even count comes first. A bare quote inside an unquoted field (text to
    pyarrow) upsets the count: then the last line end after an odd count. The caller
    checks them with pyarrow itself, and reads on if neither holds.
    """
    odd = None
    ends = _line_ends(data)
    for cut, parity in ends:
        if parity == 0:
            yield cut
            break
        if odd is None:
            odd = cut
    if odd is None:
        odd = next((cut for cut, parity in ends if parity == 1), None)
    if odd is not None:
        yield odd


@dataclass(frozen=True)
class _Chunk:
    """One chunk of a CSV file as read by pyarrow."""

    table: pa.RecordBatch  # the valid records, the requested columns only
    numbers: np.ndarray  # their record numbers within the chunk, from 1
    invalid: list[int]  # the record numbers within the chunk of wrong field counts
    records: int  # records in the chunk, valid or not


class _CsvParser:
    """Parses chunks of one CSV file with pyarrow, each on its own and on this thread.

    Each chunk is followed by a sentinel record (one field too many): pyarrow reads it
    as a record of its own only if the chunk ends outside a quoted field, which proves
    the chunk ends at a record boundary (and, for the last chunk, that every quoted
    field of the file is closed). Parsing a chunk in one block also sidesteps
    pyarrow 25 dropping an LF that starts a block after a CR (apache/arrow#51368).
    """

    def __init__(self, header: list[str], columns: list[str], delimiter: str):
        self._header = header
        self._columns = columns  # the columns converted unless `parse(..., every=True)`
        self._sentinel = delimiter * len(header)
        self._tail = b"\n" + self._sentinel.encode("ascii") + b"\n"
        self._parse = dict(
            delimiter=delimiter,
            quote_char='"',
            double_quote=True,
            escape_char=False,
            newlines_in_values=True,
            ignore_empty_lines=True,
        )
        self._convert_every = self._convert_options(header)
        self._convert_read = self._convert_options(columns)

    @staticmethod
    def _convert_options(columns: list[str]) -> pa_csv.ConvertOptions:
        return pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in columns},
            include_columns=columns,
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
            check_utf8=False,  # _CleanText hands over valid UTF-8 only
        )

    def parse(self, data: memoryview, first: bool, every: bool) -> _Chunk | None:
        """`data` read by pyarrow; None if it does not end at a record boundary.

        The first chunk starts with the header. Only the requested columns are converted
        (pyarrow still splits every field), all of them with `every`. Raises the read
        error if pyarrow fails.
        """
        sentinel = self._sentinel
        invalid: list[tuple[int | None, bool]] = []

        def on_invalid(row: pa_csv.InvalidRow) -> str:
            invalid.append((row.number, row.text == sentinel))
            return "skip"

        # pyarrow skips a UTF-8 BOM at the start of what it reads: after the first chunk,
        # a record starting with U+FEFF would lose it, or vanish if that was all it held.
        # A blank line in front (not a record, not counted) keeps it where it is.
        head = b"" if first else b"\n"
        payload = pa.py_buffer(b"".join((head, data, self._tail)))
        read = pa_csv.ReadOptions(
            use_threads=False,
            block_size=len(payload) + 1,
            column_names=None if first else self._header,
        )
        parse = pa_csv.ParseOptions(**self._parse, invalid_row_handler=on_invalid)
        convert = self._convert_every if every else self._convert_read
        table = pa_csv.read_csv(pa.BufferReader(payload), read, parse, convert)
        shift = 1 if first else 0  # pyarrow counts the header as record 1
        records = table.num_rows + len(invalid)
        if not invalid or invalid[-1] != (records + shift, True):
            return None  # the sentinel was swallowed by a quoted field still open
        if table.schema.names != (self._header if every else self._columns):
            raise ValueError("pyarrow and the header check disagree on the header")
        records -= 1
        numbers = [number - shift for number, _ in invalid[:-1] if number is not None]
        if len(numbers) != len(invalid) - 1 or numbers != sorted(set(numbers)):
            raise ValueError("record numbers are not available")
        if numbers and not 1 <= numbers[0] <= numbers[-1] <= records:
            raise ValueError("record numbers are inconsistent")
        valid = np.ones(records, dtype=bool)
        valid[np.array(numbers, dtype=np.int64) - 1] = False
        batch = table.combine_chunks()
        batches = batch.to_batches()
        rows = batches[0] if batches else pa.RecordBatch.from_pylist([], schema=batch.schema)
        return _Chunk(rows, np.flatnonzero(valid) + 1, numbers, records)


def _iter_csv(
    path: str,
    columns: list[str],
    read_columns: list[str],
    delimiter: str,
    encoding: str,
    batch_bytes: int,
) -> Iterator[RawBatch]:
    """CSV records in chunks of about `batch_bytes` that end at record boundaries.

    Only `read_columns` are converted, except in a chunk that holds the marker of bytes
    that are not text: there every column is, to find the records to reject.

    The file is read here and parsed with pyarrow in memory, one chunk at a time (no
    pyarrow thread calls back into Python, and memory stays at a few chunks). A
    chunk grows as needed to hold a long record, up to `MAX_CHUNK_BYTES`.
    """
    if _empty_file(path, "csv"):
        raise InputError("empty-input", path=path)
    header = _csv_header(path, delimiter, encoding)
    _check_header(path, header, columns)
    parser = _CsvParser(header, read_columns, delimiter)
    source, err = _call(lambda: _CleanText(path, encoding))
    if err is not None:
        raise _unreadable(path, "csv", "the file cannot be opened") from None
    assert isinstance(source, _CleanText)
    with closing(source):
        buf = b""
        base = 0  # records in the chunks already read
        first = True
        target = batch_bytes
        while True:
            parts = [buf]
            have = len(buf)
            while have < target and not source.eof:
                more, err = _call(lambda: source.read(max(target - have, 1)))  # noqa: B023
                if err is not None:
                    raise _unreadable(path, "csv", "the file cannot be read") from None
                assert isinstance(more, bytes)
                parts.append(more)
                have += len(more)
            buf = b"".join(parts)
            if not buf and not first:
                return
            chunk = cut = None
            marked = source.marked and _MARK_BYTES in buf
            for cut in [len(buf)] if source.eof else _cuts(buf):
                chunk, err = _call(
                    lambda: parser.parse(memoryview(buf)[:cut], first, marked)  # noqa: B023
                )
                if err is not None:
                    raise _unreadable(path, "csv", "the file is not valid CSV") from None
                if chunk is not None:
                    break
            if chunk is None:
                if source.eof:
                    raise _unreadable(
                        path, "csv", "a quoted field is not closed at the end of the file"
                    ) from None
                if len(buf) >= MAX_CHUNK_BYTES:
                    raise _unreadable(
                        path,
                        "csv",
                        f"a record is longer than {MAX_CHUNK_BYTES // (1024 * 1024)} MiB"
                        " (or a quoted field is not closed)",
                    ) from None
                target = 2 * max(target, len(buf))  # a long record: read more
                continue
            assert isinstance(chunk, _Chunk) and cut is not None
            rows = chunk.numbers + base
            rejected = [(base + n, "wrong-field-count") for n in chunk.invalid]
            table = chunk.table
            if marked:
                table, rows, rejected = _drop_bad_text(table, rows, rejected, _marked_rows)
                table = table.select(read_columns)
            if table.num_rows or rejected:
                yield _raw_batch(table, rows, rejected)
            base += chunk.records
            buf = buf[cut:]
            first = False
            target = batch_bytes
            if source.eof and not buf:
                return


def _string_schema(columns: list[str]) -> pa.Schema:
    return pa.schema([pa.field(name, pa.string()) for name in columns])


# --------------------------------------------------------------------------- Parquet


def _open_parquet(path: str) -> pq.ParquetFile:
    pf, err = _call(lambda: pq.ParquetFile(path))
    if err is not None:
        raise _unreadable(path, "parquet", "not a Parquet file, or a damaged one") from None
    assert isinstance(pf, pq.ParquetFile)
    return pf


def _parquet_header(path: str) -> list[str]:
    pf = _open_parquet(path)
    try:
        schema, err = _call(lambda: pf.schema_arrow)
    finally:
        pf.close()
    if err is not None:
        raise _unreadable(path, "parquet", "the schema cannot be read") from None
    assert isinstance(schema, pa.Schema)
    if not schema.names:
        raise InputError("empty-input", path=path)
    for position, field in enumerate(schema, 1):
        value_type = field.type.value_type if pa.types.is_dictionary(field.type) else field.type
        if pa.types.is_nested(value_type):
            name = field.name if _SHOWN_NAME.fullmatch(field.name) else f"#{position}"
            raise _unreadable(
                path, "parquet", f"column {name} holds nested values (list, struct or map)"
            ) from None
    return list(schema.names)


def _parquet_rows(path: str) -> int:
    pf = _open_parquet(path)
    try:
        rows, err = _call(lambda: pf.metadata.num_rows)
    finally:
        pf.close()
    if err is not None:
        raise _unreadable(path, "parquet", "the metadata cannot be read") from None
    assert isinstance(rows, int)
    return rows


def _as_text(column: pa.Array) -> pa.Array:
    """A Parquet column of bytes or text as a string column (not validated here).

    Text written as plain BYTE_ARRAY (older writers), fixed-size or view types, and
    dictionary-encoded text are read as text, so that a value that is not valid UTF-8
    rejects its row ("invalid-encoding") instead of failing the cast to text later.
    """
    if pa.types.is_dictionary(column.type):
        column = column.dictionary_decode()
    t = column.type
    if pa.types.is_binary(t):
        return column.view(pa.string())
    if pa.types.is_large_binary(t):
        return column.view(pa.large_string())
    if pa.types.is_fixed_size_binary(t) or pa.types.is_binary_view(t) or t == pa.string_view():
        return column.cast(pa.large_binary()).view(pa.large_string())
    return column


def _parquet_batch_rows(pf: pq.ParquetFile, columns: list[str], batch_bytes: int) -> int:
    """Rows per batch so that a batch of `columns` holds about `batch_bytes`, at most 65,536.

    The footer's sizes are of encoded pages (dictionaries shrink repeated values many
    times), so they only bound the estimate; the row cap keeps batches small.
    """
    meta = pf.metadata
    wanted = set(columns)
    size = sum(
        column.total_uncompressed_size
        for g in range(meta.num_row_groups)
        for column in map(meta.row_group(g).column, range(meta.num_columns))
        if column.path_in_schema in wanted
    )
    per_row = max(1, size // meta.num_rows) if meta.num_rows else 1
    return max(1, min(batch_bytes // per_row, 1 << 16))


def _iter_parquet(
    path: str, columns: list[str], read_columns: list[str], batch_bytes: int
) -> Iterator[RawBatch]:
    if _empty_file(path, "parquet"):
        raise InputError("empty-input", path=path)
    header = _parquet_header(path)
    _check_header(path, header, columns)
    pf = _open_parquet(path)
    try:
        size, err = _call(lambda: _parquet_batch_rows(pf, read_columns, batch_bytes))
        if err is not None:
            raise _unreadable(path, "parquet", "the metadata cannot be read") from None
        batches, err = _call(lambda: pf.iter_batches(batch_size=size, columns=read_columns))
        if err is not None:
            raise _unreadable(path, "parquet", "the data cannot be read") from None
        assert isinstance(batches, Iterator)
        start = 1
        while True:
            batch, err = _call(lambda: next(batches))
            if isinstance(err, StopIteration):
                break
            if err is not None:
                raise _unreadable(path, "parquet", "the data is damaged") from None
            assert isinstance(batch, pa.RecordBatch)
            n = batch.num_rows
            if n == 0:
                continue
            rows = np.arange(start, start + n, dtype=np.int64)
            start += n
            table = batch.select(read_columns)
            table = pa.RecordBatch.from_arrays(
                [_as_text(column) for column in table.columns], names=read_columns
            )
            table, rows, rejected = _drop_bad_text(table, rows, [], _not_text)
            yield _raw_batch(table, rows, rejected)
    finally:
        pf.close()


# --------------------------------------------------------------------------- JSON Lines


class _InvalidJson(ValueError):
    pass


def _reject_constant(name: str) -> object:
    raise _InvalidJson("non-standard constant")


# Objects come back as tuples of (key, value) pairs (duplicates kept, and never confused
# with an array, which comes back as a list); numbers as their JSON text.
_DECODER = json.JSONDecoder(
    object_pairs_hook=tuple,
    parse_float=str,
    parse_int=str,
    parse_constant=_reject_constant,
)
_STR_ONLY = {str}
_SCALAR_TEXT = {None: None, True: "true", False: "false"}


def _loads(text: str) -> object:
    return _DECODER.decode(text)


def _decode_line(raw: bytes, number: int, encoding: str) -> str:
    text = raw.decode(encoding)
    if number == 1 and encoding == _UTF8:
        text = text.removeprefix("\ufeff")
    return text


def _jsonl_lines(path: str) -> Iterator[tuple[int, bytes]]:
    """Physical lines (number, bytes) of a file; OS errors become InputError."""
    f, err = _call(lambda: open(path, "rb"))  # noqa: SIM115 - closed below
    if err is not None:
        raise _unreadable(path, "jsonl", "the file cannot be opened") from None
    assert isinstance(f, io.BufferedReader)
    try:
        number = 0
        while True:
            line, err = _call(f.readline)
            if err is not None:
                raise _unreadable(path, "jsonl", "the file cannot be read") from None
            if not line:
                return
            number += 1
            yield number, line  # type: ignore[misc]
    finally:
        f.close()


def _jsonl_header(path: str, encoding: str) -> list[str]:
    first = None
    with closing(_jsonl_lines(path)) as lines:
        first = next(((n, line) for n, line in lines if line.strip()), None)
    if first is None:
        raise InputError("empty-input", path=path)
    number, line = first
    text, err = _call(lambda: _decode_line(line, number, encoding))
    if err is not None:
        raise _unreadable(path, "jsonl", f"line {number} is not valid {encoding} text") from None
    obj, err = _call(lambda: _loads(text))
    if err is not None or not isinstance(obj, tuple):
        raise _unreadable(path, "jsonl", f"line {number} is not a JSON object") from None
    return [key for key, _ in obj]


class _JsonRecords:
    """Turns JSON Lines into rows of text values in the requested column order."""

    def __init__(self, columns: list[str], encoding: str):
        self.columns = columns
        self._encoding = encoding
        self._wanted = set(columns)
        self._blank = dict.fromkeys(columns)
        self._get = operator.itemgetter(*columns)
        self._single = len(columns) == 1

    def parse(self, line: bytes, number: int) -> tuple[str | None, ...] | str:
        """The values on one line, or the row reason code that rejects it.

        Numbers keep their JSON spelling, booleans read "true" and "false", a missing
        key is null. Nested values, duplicated keys and non-standard constants reject
        the line; so does a key not in the columns.
        """
        try:
            text = _decode_line(line, number, self._encoding)
        except UnicodeError:
            return "invalid-encoding"
        try:
            pairs = _loads(text)
        except (ValueError, RecursionError):
            return "invalid-json"
        if type(pairs) is not tuple:
            return "invalid-json"
        record = dict(pairs)
        if len(record) != len(pairs):
            return "invalid-json"  # a duplicated key is ambiguous
        if not set(map(type, record.values())) <= _STR_ONLY:
            for key, value in record.items():
                if type(value) is not str:
                    if type(value) not in (bool, type(None)):
                        return "invalid-json"
                    record[key] = _SCALAR_TEXT[value]
        if not record.keys() <= self._wanted:
            return "unknown-column"
        if len(record) < len(self.columns):
            record = {**self._blank, **record}
        values = self._get(record)
        return (values,) if self._single else values


def _jsonl_batch(
    values: list[tuple[str | None, ...]],
    rows: list[int],
    rejected: list[tuple[int, str]],
    columns: list[str],
) -> RawBatch:
    numbers = np.array(rows, dtype=np.int64)
    table = _string_batch(values, columns)
    if table is None:  # a lone surrogate from a \ud800 escape: find its records
        keep = []
        for index, record in enumerate(values):
            try:
                for value in record:
                    if value is not None:
                        value.encode(_UTF8)
                keep.append(index)
            except UnicodeEncodeError:
                rejected.append((rows[index], "invalid-encoding"))
        rejected.sort()
        values = [values[k] for k in keep]
        numbers = numbers[keep]
        table = _string_batch(values, columns)
        assert table is not None
    table, numbers, rejected = _drop_bad_text(table, numbers, rejected, _nul_text)
    return _raw_batch(table, numbers, rejected)


def _string_batch(
    values: list[tuple[str | None, ...]], columns: list[str]
) -> pa.RecordBatch | None:
    """Rows of values as string columns, '' as null (as an empty CSV field).

    None if a value cannot be encoded as UTF-8.
    """
    transposed = list(zip(*values, strict=True)) if values else [() for _ in columns]
    try:
        arrays = [pa.array(column, type=pa.string()) for column in transposed]
    except UnicodeEncodeError:
        return None
    null = pa.scalar(None, type=pa.string())
    arrays = [pc.if_else(pc.equal(a, ""), null, a) for a in arrays]
    return pa.RecordBatch.from_arrays(arrays, schema=_string_schema(columns))


def _iter_jsonl(
    path: str, columns: list[str], encoding: str, batch_bytes: int
) -> Iterator[RawBatch]:
    if _empty_file(path, "jsonl"):
        raise InputError("empty-input", path=path)
    parser = _JsonRecords(columns, encoding)
    values: list[tuple[str | None, ...]] = []
    rows: list[int] = []
    rejected: list[tuple[int, str]] = []
    size = 0
    with closing(_jsonl_lines(path)) as lines:
        for number, line in lines:
            if not line.strip():
                continue  # a blank line is not a record
            result = parser.parse(line, number)
            if isinstance(result, str):
                rejected.append((number, result))
            else:
                values.append(result)
                rows.append(number)
            size += len(line)
            if size >= batch_bytes or len(rows) + len(rejected) >= _MAX_JSONL_ROWS:
                yield _jsonl_batch(values, rows, rejected, columns)
                values, rows, rejected, size = [], [], [], 0
    if rows or rejected:
        yield _jsonl_batch(values, rows, rejected, columns)
