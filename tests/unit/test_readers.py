"""The input readers: CSV, Parquet and JSON Lines files to numbered Arrow batches."""

from __future__ import annotations

import csv
import io
import json
import traceback
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pipeline import readers
from pipeline.readers import (
    DEFAULT_BATCH_BYTES,
    FORMATS,
    RawBatch,
    detect_format,
    iter_batches,
    read_header,
)
from schemas.errors import ROW_REASONS, InputError, UsageError

# Values that must never appear in an error, a traceback or a rejected entry.
CANARIES = ("1 99 99 99 999 999 99", "CANARY-DUPONT", "s3cret-CANARY!")
NIR, NAME, PASSWORD = CANARIES


# --------------------------------------------------------------------------- helpers


def write(tmp_path: Path, name: str, data: bytes | str, encoding: str = "utf-8") -> str:
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode(encoding))
    return str(path)


def read_all(
    path: str, fmt: str, columns: list[str], **options: object
) -> tuple[list[dict[str, object]], list[int], list[tuple[int, str]]]:
    """All records of a file; checks the batch invariants on the way."""
    records: list[dict[str, object]] = []
    numbers: list[int] = []
    rejected: list[tuple[int, str]] = []
    last = 0
    expected_names = options.get("read_columns", columns)
    for batch in iter_batches(path, fmt, columns=columns, **options):  # type: ignore[arg-type]
        assert isinstance(batch, RawBatch)
        assert batch.table.schema.names == expected_names
        if fmt != "parquet":
            assert all(t == pa.string() for t in batch.table.schema.types)
        assert batch.rows.type == pa.int64()
        assert len(batch.rows) == batch.table.num_rows
        assert batch.table.num_rows or batch.rejected
        rows = batch.rows.to_pylist()
        here = sorted(rows + [n for n, _ in batch.rejected])
        assert len(set(here)) == len(here), "record numbers are unique"
        assert here[0] > last, "record numbers increase from batch to batch"
        assert rows == sorted(rows)
        assert [n for n, _ in batch.rejected] == sorted(n for n, _ in batch.rejected)
        last = here[-1]
        for number, code in batch.rejected:
            assert isinstance(number, int)
            assert code in ROW_REASONS
        records.extend(batch.table.to_pylist())
        numbers.extend(rows)
        rejected.extend(batch.rejected)
    return records, numbers, rejected


def assert_no_canary(exc: BaseException) -> None:
    """No canary in the message, the traceback or any chained exception."""
    texts = [str(exc), repr(exc), "".join(traceback.format_exception(exc))]
    link: BaseException | None = exc
    while link is not None:
        texts.append(repr(link.args))
        link = link.__cause__ or link.__context__
    for text in texts:
        for canary in CANARIES:
            assert canary not in text
    assert exc.__cause__ is None
    assert exc.__context__ is None or not isinstance(exc.__context__, pa.ArrowException)


def refusal(path: str, fmt: str, columns: list[str], **options: object) -> InputError:
    with pytest.raises(InputError) as caught:
        read_all(path, fmt, columns, **options)
    assert_no_canary(caught.value)
    return caught.value


COLS = ["nir", "nom", "commentaire"]


# --------------------------------------------------------------------------- formats


@pytest.mark.parametrize(
    ("name", "fmt"),
    [
        ("a.csv", "csv"),
        ("dir.v2/A.CSV", "csv"),
        ("a.txt", "csv"),
        ("a.parquet", "parquet"),
        ("a.pq", "parquet"),
        ("a.jsonl", "jsonl"),
        ("a.ndjson", "jsonl"),
        ("a.json", "jsonl"),
    ],
)
def test_detect_format_by_extension(name: str, fmt: str) -> None:
    assert detect_format(name) == fmt


def test_detect_format_explicit_wins() -> None:
    assert detect_format("export.dat", "CSV") == "csv"
    assert detect_format("export.csv", "parquet") == "parquet"
    with pytest.raises(UsageError):
        detect_format("export.csv", "xlsx")


@pytest.mark.parametrize("name", ["export.xlsx", "export", "export.csv.gz"])
def test_detect_format_unknown_extension(name: str) -> None:
    with pytest.raises(InputError) as caught:
        detect_format(name)
    assert caught.value.code == "unreadable-input"


def test_formats() -> None:
    assert FORMATS == ("csv", "parquet", "jsonl")


# --------------------------------------------------------------------------- headers


def test_csv_header_raw_names_in_file_order(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "\ufeffb;a; c ;a\n1;2;3;4\n")
    assert read_header(path, "csv") == ["b", "a", " c ", "a"]
    path = write(tmp_path, "b.csv", '\n\n"x;y",z\r\n1,2\r\n')
    assert read_header(path, "csv", delimiter=",") == ["x;y", "z"]


def test_csv_header_cp1252(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "prénom;année\nÉlodie;1984\n", encoding="cp1252")
    assert read_header(path, "csv", encoding="cp1252") == ["prénom", "année"]


@pytest.mark.parametrize("data", [b"", b"\xef\xbb\xbf", b"\n\r\n\n"])
def test_csv_header_empty(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "a.csv", data)
    with pytest.raises(InputError) as caught:
        read_header(path, "csv")
    assert caught.value.code == "empty-input"


@pytest.mark.parametrize(
    "data",
    [
        b'a;"b\n1;2\n',  # quoted name never closed
        b"a;b\xff\n1;2\n",  # not UTF-8
        b"a;b\x00\n",  # NUL
        b"x" * (readers.HEADER_LIMIT_BYTES + 10),  # no end of header in sight
    ],
)
def test_csv_header_unreadable(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "a.csv", data)
    with pytest.raises(InputError) as caught:
        read_header(path, "csv")
    assert caught.value.code == "unreadable-input"
    assert_no_canary(caught.value)


def test_missing_file_is_unreadable(tmp_path: Path) -> None:
    for fmt in FORMATS:
        with pytest.raises(InputError) as caught:
            read_header(str(tmp_path / "nope"), fmt)
        assert caught.value.code == "unreadable-input"


def test_parquet_and_jsonl_headers(tmp_path: Path) -> None:
    path = str(tmp_path / "a.parquet")
    pq.write_table(pa.table({"b": [1], "a": ["x"]}), path)
    assert read_header(path, "parquet") == ["b", "a"]
    path = write(tmp_path, "a.jsonl", '\n  \n{"b": 1, "a": null, "b": 2}\n{"c": 1}\n')
    assert read_header(path, "jsonl") == ["b", "a", "b"]
    path = write(tmp_path, "b.jsonl", "\n\n")
    with pytest.raises(InputError) as caught:
        read_header(path, "jsonl")
    assert caught.value.code == "empty-input"
    path = write(tmp_path, "c.jsonl", f'["{NIR}"]\n')
    with pytest.raises(InputError) as caught:
        read_header(path, "jsonl")
    assert caught.value.code == "unreadable-input"
    assert_no_canary(caught.value)


def test_header_mismatch_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a;b;a\n1;2;3\n")
    assert refusal(path, "csv", ["a", "b"]).code == "duplicate-header"
    path = write(tmp_path, "b.csv", "a;b\n1;2\n")
    assert refusal(path, "csv", ["a", "b", "c"]).code == "missing-column"
    assert refusal(path, "csv", ["a"]).code == "unknown-column"


# --------------------------------------------------------------------------- CSV


@pytest.mark.parametrize("delimiter", [";", ","])
def test_csv_basic(tmp_path: Path, delimiter: str) -> None:
    d = delimiter
    text = f"a{d}b{d}c\n1{d}{d}x\n{d}{d}\nNA{d}null{d} \n"
    path = write(tmp_path, "a.csv", text)
    records, numbers, rejected = read_all(path, "csv", ["a", "b", "c"], delimiter=d)
    assert records == [
        {"a": "1", "b": None, "c": "x"},
        {"a": None, "b": None, "c": None},
        {"a": "NA", "b": "null", "c": " "},  # only an empty field is null
    ]
    assert numbers == [1, 2, 3]
    assert rejected == []


def test_csv_columns_in_requested_order(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "c;a;b\n3;1;2\n")
    records, _, _ = read_all(path, "csv", ["a", "b", "c"])
    assert records == [{"a": "1", "b": "2", "c": "3"}]


@pytest.mark.parametrize("encoding", ["utf-8", "UTF8", "utf-8-sig"])
def test_csv_bom_and_crlf(tmp_path: Path, encoding: str) -> None:
    path = write(tmp_path, "a.csv", b"\xef\xbb\xbfa;b\r\n1;2\r\n3;4")
    assert read_header(path, "csv", encoding=encoding) == ["a", "b"]
    records, numbers, _ = read_all(path, "csv", ["a", "b"], encoding=encoding)
    assert records == [{"a": "1", "b": "2"}, {"a": "3", "b": "4"}]
    assert numbers == [1, 2]


def test_csv_cp1252(tmp_path: Path) -> None:
    text = "nom;libelle\nLÉON;Glycémie à jeun\nŒDIPE;€ « ok »\n"
    path = write(tmp_path, "a.csv", text, encoding="cp1252")
    records, numbers, rejected = read_all(path, "csv", ["nom", "libelle"], encoding="cp1252")
    assert records == [
        {"nom": "LÉON", "libelle": "Glycémie à jeun"},
        {"nom": "ŒDIPE", "libelle": "€ « ok »"},
    ]
    assert numbers == [1, 2]
    assert rejected == []


def test_csv_cp1252_undefined_byte_rejects_its_record(tmp_path: Path) -> None:
    data = "nom;libelle\nA;é\n".encode("cp1252") + b"B;x\x81y\n" + "C;à\n".encode("cp1252")
    path = write(tmp_path, "a.csv", data)
    records, numbers, rejected = read_all(path, "csv", ["nom", "libelle"], encoding="cp1252")
    assert [r["nom"] for r in records] == ["A", "C"]
    assert numbers == [1, 3]
    assert rejected == [(2, "invalid-encoding")]


def test_csv_quoted_fields(tmp_path: Path) -> None:
    data = (
        'a;b\n"x;y";"line 1\nline 2"\n"say ""hi""";"crlf\r\ninside"\n"";plain\n"trailing\n";"\n"\n'
    )
    path = write(tmp_path, "a.csv", data)
    records, numbers, _ = read_all(path, "csv", ["a", "b"])
    assert records == [
        {"a": "x;y", "b": "line 1\nline 2"},
        {"a": 'say "hi"', "b": "crlf\r\ninside"},
        {"a": None, "b": "plain"},
        {"a": "trailing\n", "b": "\n"},
    ]
    assert numbers == [1, 2, 3, 4]


def test_csv_unknown_encoding_is_a_usage_error(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a\n1\n")
    with pytest.raises(UsageError):
        iter_batches(path, "csv", columns=["a"], encoding="klingon")
    with pytest.raises(UsageError):
        iter_batches(path, "csv", columns=["a"], delimiter=";;")


def bad_rows_file(tmp_path: Path) -> str:
    """Records 1-12; 1, 4, 5, 9 and 12 have the wrong field count and hold canaries."""
    lines = ["nir;nom;commentaire"]
    for n in range(1, 13):
        if n in (1, 4, 5, 9, 12):
            lines.append(f"{NIR};{NAME};{PASSWORD};extra" if n % 2 else f"{NIR}")
        elif n == 7:
            lines.append(f'{n};"quoted\n{n}";"multi\nline"')  # one record, three lines
        else:
            lines.append(f"{n};nom{n};c{n}")
    return write(tmp_path, "bad.csv", "\n".join(lines) + "\n")


@pytest.mark.parametrize("batch_bytes", [16, 40, 100, DEFAULT_BATCH_BYTES])
def test_csv_wrong_field_count(tmp_path: Path, batch_bytes: int) -> None:
    path = bad_rows_file(tmp_path)
    records, numbers, rejected = read_all(path, "csv", COLS, batch_bytes=batch_bytes)
    assert numbers == [2, 3, 6, 7, 8, 10, 11]
    assert [r["nir"] for r in records] == ["2", "3", "6", "7", "8", "10", "11"]
    assert records[3] == {"nir": "7", "nom": "quoted\n7", "commentaire": "multi\nline"}
    assert rejected == [(n, "wrong-field-count") for n in (1, 4, 5, 9, 12)]
    assert len(records) + len(rejected) == 12
    assert not any(c in repr(rejected) for c in CANARIES)


def test_pyarrow_counts_the_header_as_row_one(tmp_path: Path) -> None:
    """The fact the CSV numbering relies on, checked against pyarrow itself."""
    seen: list[int] = []

    def handler(row: pa_csv.InvalidRow) -> str:
        seen.append(row.number)
        return "skip"

    data = b'a;b\n\n1;"2\n2"\n3\n4;5\n'
    parse = pa_csv.ParseOptions(delimiter=";", newlines_in_values=True, invalid_row_handler=handler)
    table = pa_csv.read_csv(
        io.BytesIO(data), pa_csv.ReadOptions(use_threads=False), parse_options=parse
    )
    assert table.num_rows == 2
    assert seen == [3]  # header 1, record "1;2\n2" 2, record "3" 3: data record 2


def test_csv_invalid_utf8_rejects_only_its_record(tmp_path: Path) -> None:
    data = (
        b"nir;nom;commentaire\n1;a;b\n"
        + f"{NIR};{NAME}\xff;{PASSWORD}\n".encode().replace(b"\xc3\xbf", b"\xff")
        + b"3;c;\xc3\n4;\xe9t\xe9;d\n5;\xff;x;y\n6;e;f"
    )
    assert b"\xff" in data
    path = write(tmp_path, "a.csv", data)
    records, numbers, rejected = read_all(path, "csv", COLS, batch_bytes=32)
    assert numbers == [1, 6]
    assert [r["nir"] for r in records] == ["1", "6"]
    assert rejected == [
        (2, "invalid-encoding"),
        (3, "invalid-encoding"),
        (4, "invalid-encoding"),
        (5, "wrong-field-count"),  # bad bytes and a wrong field count: no crash
    ]
    assert not any(c in repr(rejected) for c in CANARIES)


def test_csv_utf8_split_across_reads(tmp_path: Path) -> None:
    """Multi-byte characters cut by a read boundary stay whole (small reads)."""
    rows = [f"{i};{'é€𝄞' * (i % 7)}" for i in range(2000)]
    path = write(tmp_path, "a.csv", "a;b\n" + "\n".join(rows) + "\n")
    records, numbers, rejected = read_all(path, "csv", ["a", "b"], batch_bytes=333)
    assert rejected == []
    assert numbers == list(range(1, 2001))
    assert [r["b"] for r in records] == [("é€𝄞" * (i % 7)) or None for i in range(2000)]


def test_csv_nul_byte_rejects_its_record(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", b"a;b\n1;x\x00y\n2;\x00\n3;z\n4;\xef\xbf\xbf\n5;\xef\xbf\xbe\n")
    records, numbers, rejected = read_all(path, "csv", ["a", "b"])
    assert records == [{"a": "3", "b": "z"}, {"a": "5", "b": "\ufffe"}]
    assert numbers == [3, 5]
    # U+FFFF, a noncharacter, is the reader's own marker for bytes that are not text.
    assert rejected == [(1, "invalid-encoding"), (2, "invalid-encoding"), (4, "invalid-encoding")]


@pytest.mark.parametrize("batch_bytes", [64, 100, 128, 1000])
def test_csv_nul_never_reaches_pyarrow(tmp_path: Path, batch_bytes: int) -> None:
    """pyarrow 25 mis-splits records around a NUL (apache/arrow#50481): not here."""
    data = (
        b"nir;nom;commentaire\n1;a;b\n"
        + f"{NIR};{NAME}\x00;{PASSWORD}\n".encode()
        + b"3;c;\x00\n4;\x00t\x00;d\n5;\x00;x;y\n6;e;f\n"
    )
    path = write(tmp_path, "a.csv", data)
    records, numbers, rejected = read_all(path, "csv", COLS, batch_bytes=batch_bytes)
    assert numbers == [1, 6]
    assert [r["nir"] for r in records] == ["1", "6"]
    assert rejected == [
        (2, "invalid-encoding"),
        (3, "invalid-encoding"),
        (4, "invalid-encoding"),
        (5, "wrong-field-count"),
    ]


def test_csv_crlf_in_a_quoted_field_across_chunks(tmp_path: Path) -> None:
    """pyarrow 25 drops an LF that starts a block after a CR (apache/arrow#51368): not here."""
    rows = [f'{i};"{"z" * (i % 97)}A\r\nB";x' for i in range(300)]
    path = write(tmp_path, "a.csv", "id;s;p\r\n" + "\r\n".join(rows) + "\r\n")
    for batch_bytes in (64, 101, 4096):
        records, _, rejected = read_all(path, "csv", ["id", "s", "p"], batch_bytes=batch_bytes)
        assert rejected == []
        assert [r["s"] for r in records] == [f"{'z' * (i % 97)}A\r\nB" for i in range(300)]


def test_csv_control_characters_are_text(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", b"a;b\n\x01;\x1b[0m\x7f\x0c\x0b\n")
    records, _, rejected = read_all(path, "csv", ["a", "b"])
    assert records == [{"a": "\x01", "b": "\x1b[0m\x7f\x0c\x0b"}]
    assert rejected == []


@pytest.mark.parametrize("data", ["a;b\n", "a;b", "\ufeffa;b\r\n\r\n"])
def test_csv_header_only(tmp_path: Path, data: str) -> None:
    path = write(tmp_path, "a.csv", data)
    assert read_all(path, "csv", ["a", "b"]) == ([], [], [])


@pytest.mark.parametrize("batch_bytes", [1, 10, DEFAULT_BATCH_BYTES])
def test_csv_cr_only_line_ends(tmp_path: Path, batch_bytes: int) -> None:
    path = write(tmp_path, "a.csv", 'a;b\r1;"x\ry"\r2;z\r3\r4;w')
    records, numbers, rejected = read_all(path, "csv", ["a", "b"], batch_bytes=batch_bytes)
    assert records == [{"a": "1", "b": "x\ry"}, {"a": "2", "b": "z"}, {"a": "4", "b": "w"}]
    assert numbers == [1, 2, 4]
    assert rejected == [(3, "wrong-field-count")]


def test_csv_blank_lines_are_not_records(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a;b\n\n1;2\n\n\n3;4\n\n")
    _, numbers, _ = read_all(path, "csv", ["a", "b"])
    assert numbers == [1, 2]


def test_csv_empty_file(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", b"")
    assert refusal(path, "csv", ["a"]).code == "empty-input"


@pytest.mark.parametrize(
    "tail",
    [f'3;"{NIR} {NAME}', f'3;"{PASSWORD}\n', f'3;"{NAME}""\n4;5\n'],
)
def test_csv_unclosed_quote_at_end(tmp_path: Path, tail: str) -> None:
    path = write(tmp_path, "a.csv", f"a;b\n1;2\n{tail}")
    assert refusal(path, "csv", ["a", "b"]).code == "unreadable-input"


def test_csv_large_field(tmp_path: Path) -> None:
    big = "Contrôle à prévoir; " * 550_000  # about 11 MB
    text = f'a;b\n1;x\n2;"{big}"\n3\n4;y\n'
    path = write(tmp_path, "a.csv", text)
    records, numbers, rejected = read_all(path, "csv", ["a", "b"])
    assert numbers == [1, 2, 4]
    assert records[1]["b"] == big
    assert rejected == [(3, "wrong-field-count")]


def test_csv_chunk_grows_for_a_large_field(tmp_path: Path) -> None:
    big = "x" * 300_000
    lines = [f"{i};v{i}" for i in range(1, 2000)]
    lines[1500] = f'1501;"{big}"'
    lines[1000] = "1001"
    text = "a;b\n" + "\n".join(lines) + "\n"
    path = write(tmp_path, "a.csv", text)
    records, numbers, rejected = read_all(path, "csv", ["a", "b"], batch_bytes=4096)
    assert numbers == [n for n in range(1, 2000) if n != 1001]
    assert [r["a"] for r in records] == [str(n) for n in numbers]
    assert records[1499]["b"] == big
    assert rejected == [(1001, "wrong-field-count")]


def test_csv_record_beyond_the_largest_chunk(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(readers, "MAX_CHUNK_BYTES", 4096)
    path = write(tmp_path, "a.csv", f'a;b\n1;"{NAME * 1000}"\n')
    assert refusal(path, "csv", ["a", "b"], batch_bytes=1024).code == "unreadable-input"


def test_pyarrow_messages_never_surface(tmp_path: Path, monkeypatch) -> None:
    """Whatever pyarrow says (its messages quote rows), the error is ours and value-free."""
    path = write(tmp_path, "a.csv", "a;b\n1;2\n")

    def broken_read(*args: object, **kwargs: object) -> object:
        raise pa.ArrowInvalid(f"CSV parse error: Row #2: Expected 2 columns, got 3: {NIR}")

    monkeypatch.setattr(readers.pa_csv, "read_csv", broken_read)
    error = refusal(path, "csv", ["a", "b"])
    assert error.code == "unreadable-input"
    assert error.__context__ is None


def test_pyarrow_messages_never_surface_mid_file(tmp_path: Path, monkeypatch) -> None:
    path = write(tmp_path, "a.csv", "a;b\n" + "1;2\n" * 5000)
    real_read = pa_csv.read_csv
    calls = []

    def read_then_break(*args: object, **kwargs: object) -> pa.Table:
        calls.append(1)
        if len(calls) == 3:
            raise pa.ArrowInvalid(f"In CSV column #1: Row #900: {PASSWORD} {NAME}")
        return real_read(*args, **kwargs)

    monkeypatch.setattr(readers.pa_csv, "read_csv", read_then_break)
    assert refusal(path, "csv", ["a", "b"], batch_bytes=1024).code == "unreadable-input"
    assert len(calls) == 3


def test_pyarrow_numbers_records_from_one_without_a_header() -> None:
    """The other fact the CSV numbering relies on: chunks after the first have no header."""
    seen: list[int] = []

    def handler(row: pa_csv.InvalidRow) -> str:
        seen.append(row.number)
        return "skip"

    data = b'\n1;2\n3\n\n"4\n4";5\n6;7;8\n'
    parse = pa_csv.ParseOptions(delimiter=";", newlines_in_values=True, invalid_row_handler=handler)
    read = pa_csv.ReadOptions(use_threads=False, column_names=["a", "b"])
    table = pa_csv.read_csv(io.BytesIO(data), read, parse_options=parse)
    assert table.num_rows == 2
    assert seen == [2, 4]


# --------------------------------------------------------------------------- CSV, property


cell = st.one_of(
    st.sampled_from(["", ";", ",", '"', '""', "\n", "\r\n", "\r", "é", "à ç", " ", "€"]),
    st.text(
        alphabet=st.one_of(
            st.sampled_from(list(';,"\n\r éàçÉ€')),
            # NUL and U+FFFF are rejected by design (see test_csv_nul_byte_rejects_its_record)
            st.characters(exclude_categories=("Cs",), exclude_characters="\x00\uffff"),
        ),
        max_size=12,
    ),
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    width=st.integers(1, 5),
    data=st.data(),
    delimiter=st.sampled_from([";", ","]),
    batch_bytes=st.sampled_from([1, 64, 1000, DEFAULT_BATCH_BYTES]),
)
def test_csv_round_trip_property(
    tmp_path: Path, width: int, data: st.DataObject, delimiter: str, batch_bytes: int
) -> None:
    columns = [f"c{i}" for i in range(width)]
    rows = data.draw(st.lists(st.lists(cell, min_size=width, max_size=width), max_size=30))
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=delimiter)
    writer.writerow(columns)
    writer.writerows(rows)
    path = write(tmp_path, "p.csv", buffer.getvalue())

    records, numbers, rejected = read_all(
        path, "csv", columns, delimiter=delimiter, batch_bytes=batch_bytes
    )
    assert rejected == []
    assert numbers == list(range(1, len(rows) + 1))
    expected = [[v if v != "" else None for v in row] for row in rows]
    assert records == [dict(zip(columns, row, strict=True)) for row in expected]


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(
        st.lists(st.sampled_from(["x", "", "a;b", "l\nm", 'q"q']), min_size=1, max_size=4),
        max_size=40,
    ),
    batch_bytes=st.sampled_from([1, 50, 700, DEFAULT_BATCH_BYTES]),
)
def test_csv_numbering_property(tmp_path: Path, rows: list[list[str]], batch_bytes: int) -> None:
    """Good and wrong-width records interleaved: every record accounted for, in place."""
    columns = ["a", "b"]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(columns)
    writer.writerows(rows)
    path = write(tmp_path, "n.csv", buffer.getvalue())

    records, numbers, rejected = read_all(path, "csv", columns, batch_bytes=batch_bytes)
    good = [n for n, row in enumerate(rows, 1) if len(row) == 2]
    assert numbers == good
    assert rejected == [(n, "wrong-field-count") for n, r in enumerate(rows, 1) if len(r) != 2]
    assert records == [{"a": rows[n - 1][0] or None, "b": rows[n - 1][1] or None} for n in good]


def raw_csv(rows: list[list[str]], delimiter: str) -> str:
    """CSV as a lenient exporter writes it: fields quoted only when they must be.

    A quote inside a field that needs no quoting stays bare (``12"``, ``O"Neil``): text to
    pyarrow, but it upsets any count of quotes.
    """

    def field(value: str) -> str:
        if any(ch in value for ch in (delimiter, "\n", "\r")) or value.startswith('"'):
            return '"' + value.replace('"', '""') + '"'
        return value

    return "".join(delimiter.join(field(v) for v in row) + "\n" for row in rows)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(
        st.lists(
            st.sampled_from(["x", "", '12"', 'O"Neil', "a;b", "l\nm", 'q"\n"q', "\r\n", "é"]),
            min_size=1,
            max_size=3,
        ),
        max_size=40,
    ),
    batch_bytes=st.sampled_from([1, 20, 64, 300]),
)
def test_csv_chunks_never_change_the_records(
    tmp_path: Path, rows: list[list[str]], batch_bytes: int
) -> None:
    """Reading in small chunks gives what one whole-file read gives, bare quotes included."""
    rows = [row for row in rows if row != [""]]  # a lone empty field is a blank line
    path = write(tmp_path, "c.csv", raw_csv([["a", "b"], *rows], ";"))
    whole = read_all(path, "csv", ["a", "b"])
    assert read_all(path, "csv", ["a", "b"], batch_bytes=batch_bytes) == whole
    _, numbers, rejected = whole
    assert sorted(numbers + [n for n, _ in rejected]) == list(range(1, len(rows) + 1))


def test_csv_long_multiline_field_in_small_chunks(tmp_path: Path) -> None:
    comment = "ligne\n" * 40_000  # 240 kB, 40,000 line ends inside one quoted field
    path = write(tmp_path, "a.csv", f'a;b\n1;x\n2;"{comment}"\n3;y\n')
    records, numbers, _ = read_all(path, "csv", ["a", "b"], batch_bytes=256)
    assert numbers == [1, 2, 3]
    assert records[1]["b"] == comment


def test_csv_reader_closed_early(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a;b\n" + "1;2\n" * 10_000)
    batches = iter_batches(path, "csv", columns=["a", "b"], batch_bytes=1024)
    first = next(batches)
    assert first.rows.to_pylist()[0] == 1
    batches.close()
    _, numbers, _ = read_all(path, "csv", ["a", "b"], batch_bytes=1024)
    assert numbers == list(range(1, 10_001))


# --------------------------------------------------------------------------- Parquet


def test_parquet_round_trip_keeps_native_types(tmp_path: Path) -> None:
    import datetime as dt

    n = 2500
    table = pa.table(
        {
            "texte": pa.array([f"v{i}" if i % 3 else None for i in range(n)]),
            "date": pa.array([dt.date(2021, 3, 1) + dt.timedelta(days=i) for i in range(n)]),
            "entier": pa.array(range(n), type=pa.int64()),
            "mesure": pa.array([i / 10 for i in range(n)]),
            "moment": pa.array(
                [dt.datetime(2021, 3, 1, 8, 12) for _ in range(n)], type=pa.timestamp("us")
            ),
        }
    )
    assert table.schema.field("date").type == pa.date32()
    path = str(tmp_path / "a.parquet")
    pq.write_table(table, path, row_group_size=700)
    columns = ["date", "texte", "moment", "mesure", "entier"]
    batches = list(iter_batches(path, "parquet", columns=columns, batch_bytes=2000))
    assert len(batches) > 1
    _, numbers, rejected = read_all(path, "parquet", columns, batch_bytes=2000)
    assert numbers == list(range(1, n + 1))
    assert rejected == []
    got = pa.Table.from_batches([b.table for b in batches])
    assert got.schema.names == columns
    assert got.equals(table.select(columns))


def test_parquet_invalid_text_rejects_its_rows(tmp_path: Path) -> None:
    values = pa.array([b"ok", NIR.encode() + b"\xff", b"z\x00", None, b"fine"]).view(pa.string())
    path = str(tmp_path / "a.parquet")
    pq.write_table(pa.table({"a": values, "b": pa.array(range(5))}), path)
    records, numbers, rejected = read_all(path, "parquet", ["a", "b"])
    assert numbers == [1, 4, 5]
    assert records == [{"a": "ok", "b": 0}, {"a": None, "b": 3}, {"a": "fine", "b": 4}]
    assert rejected == [(2, "invalid-encoding"), (3, "invalid-encoding")]


def test_parquet_corrupt(tmp_path: Path) -> None:
    good = str(tmp_path / "good.parquet")
    table = pa.table({"nom": [NAME] * 1000, "nir": [NIR] * 1000})
    pq.write_table(table, good, compression="none")
    data = Path(good).read_bytes()

    garbage = write(tmp_path, "garbage.parquet", f"nom;nir\n{NAME};{NIR}\n")
    truncated = write(tmp_path, "truncated.parquet", data[: len(data) // 2])
    # Damage the pages but keep the footer: the file opens, reading the data fails.
    middle = bytearray(data)
    for i in range(8, len(data) // 2):
        middle[i] = 0xFF
    damaged = write(tmp_path, "damaged.parquet", bytes(middle))
    for path in (garbage, truncated, damaged):
        error = refusal(path, "parquet", ["nom", "nir"])
        assert error.code == "unreadable-input"
    for path in (garbage, truncated):
        with pytest.raises(InputError) as caught:
            read_header(path, "parquet")
        assert_no_canary(caught.value)
    empty = write(tmp_path, "empty.parquet", b"")
    assert refusal(empty, "parquet", ["nom"]).code == "empty-input"


def test_parquet_header_mismatch(tmp_path: Path) -> None:
    path = str(tmp_path / "a.parquet")
    pq.write_table(pa.table({"a": [1], "b": [2]}), path)
    assert refusal(path, "parquet", ["a", "c"]).code == "missing-column"
    assert refusal(path, "parquet", ["a"]).code == "unknown-column"


def test_parquet_no_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "a.parquet")
    pq.write_table(pa.table({"a": pa.array([], pa.string())}), path)
    assert read_all(path, "parquet", ["a"]) == ([], [], [])


# --------------------------------------------------------------------------- JSON Lines


def test_jsonl_records_and_rejections(tmp_path: Path) -> None:
    lines = [
        '\ufeff{"a": "x", "b": 5.4, "c": true}',  # 1
        "",  # 2: blank, not a record
        '{"a": 5.40, "b": -12, "c": false}',  # 3
        '{"b": null, "a": ""}',  # 4: missing key and empty text are null
        f'["{NIR}"]',  # 5
        f'{{"a": "{NAME}", "b": {{"nested": 1}}}}',  # 6
        f'{{"a": "{NAME}", "d": "{PASSWORD}"}}',  # 7
        f'{{"a": "{NIR}"',  # 8: truncated
        "   ",  # 9: blank
        '{"a": 1e400, "b": 1E5, "c": "   "}',  # 10
        '{"a": NaN}',  # 11
        '{"a": "x", "a": "y"}',  # 12
        f'{{"a": "{NIR}\\u0000"}}',  # 13
        f'{{"a": "{NAME}\\ud800"}}',  # 14
        '{"a": [1, 2]}',  # 15
        '"just text"',  # 16
        '{"c": "Glycémie à jeun"}',  # 17
    ]
    data = "\r\n".join(lines).encode() + b'\n{"a": "\xff"}\n'  # 18: not UTF-8
    path = write(tmp_path, "a.jsonl", data)
    records, numbers, rejected = read_all(path, "jsonl", ["a", "b", "c"], batch_bytes=64)
    assert numbers == [1, 3, 4, 10, 17]
    assert records == [
        {"a": "x", "b": "5.4", "c": "true"},
        {"a": "5.40", "b": "-12", "c": "false"},
        {"a": None, "b": None, "c": None},
        {"a": "1e400", "b": "1E5", "c": "   "},
        {"a": None, "b": None, "c": "Glycémie à jeun"},
    ]
    assert rejected == [
        (5, "invalid-json"),
        (6, "invalid-json"),
        (7, "unknown-column"),
        (8, "invalid-json"),
        (11, "invalid-json"),
        (12, "invalid-json"),
        (13, "invalid-encoding"),
        (14, "invalid-encoding"),
        (15, "invalid-json"),
        (16, "invalid-json"),
        (18, "invalid-encoding"),
    ]
    assert not any(c in repr(rejected) for c in CANARIES)


def test_jsonl_round_trip_and_batching(tmp_path: Path) -> None:
    rows = [{"a": f'v{i};\n"{i}"', "b": str(i)} for i in range(1, 3001)]
    path = write(tmp_path, "a.jsonl", "".join(json.dumps(r) + "\n" for r in rows))
    for batch_bytes in (1, 5000, DEFAULT_BATCH_BYTES):
        records, numbers, rejected = read_all(path, "jsonl", ["b", "a"], batch_bytes=batch_bytes)
        assert records == [{"b": r["b"], "a": r["a"]} for r in rows]
        assert numbers == list(range(1, 3001))
        assert rejected == []


def test_jsonl_empty(tmp_path: Path) -> None:
    path = write(tmp_path, "a.jsonl", b"")
    assert refusal(path, "jsonl", ["a"]).code == "empty-input"
    path = write(tmp_path, "b.jsonl", b"\n\n")
    assert read_all(path, "jsonl", ["a"]) == ([], [], [])


# --------------------------------------------------------------------------- invariant


def test_invariant_over_a_messy_file(tmp_path: Path) -> None:
    """rows + rejected == data records, whatever the batch size."""
    lines = ["nir;nom;commentaire"]
    expected_records = 0
    for n in range(1, 400):
        expected_records += 1
        if n % 37 == 0:
            lines.append(f"{NIR};{NAME}")
        elif n % 41 == 0:
            lines.append(f'{n};"{NAME}\n{PASSWORD}";"{"x" * 5000}"')
        elif n % 43 == 0:
            lines.append(f"{n};{NAME}\x00;c")
        else:
            lines.append(f"{n};é{n};c")
        if n % 50 == 0:
            lines.append("")
    path = write(tmp_path, "a.csv", "\n".join(lines))
    seen = None
    for batch_bytes in (7, 100, 4096, DEFAULT_BATCH_BYTES):
        records, numbers, rejected = read_all(path, "csv", COLS, batch_bytes=batch_bytes)
        assert len(records) + len(rejected) == expected_records
        assert sorted(numbers + [n for n, _ in rejected]) == list(range(1, 400))
        assert not any(c in repr(rejected) for c in CANARIES)
        if seen is None:
            seen = (records, numbers, rejected)
        assert (records, numbers, rejected) == seen  # batch boundaries change nothing


# --------------------------------------------------------------------------- regressions
# Found by the fuzz target tests/fuzz/fuzz_csv_reader.py and the malformed-export corpus
# tests/e2e/test_malformed_inputs.py.


@pytest.mark.parametrize("batch_bytes", [1, 2, 3, 5, 8, DEFAULT_BATCH_BYTES])
def test_csv_bom_at_the_start_of_a_later_chunk_is_data(tmp_path: Path, batch_bytes: int) -> None:
    """Fuzzing: pyarrow skips a UTF-8 BOM at the start of what it parses, and every chunk
    is parsed on its own: a record starting with U+FEFF at a chunk boundary lost it, and
    a record holding nothing else vanished (it was not even counted)."""
    path = write(tmp_path, "a.csv", b"4\r\xef\xbb\xbf")  # the fuzzer's minimal input
    assert read_all(path, "csv", ["4"], batch_bytes=batch_bytes) == ([{"4": "\ufeff"}], [1], [])
    path = write(tmp_path, "b.csv", b"a;b\n\xef\xbb\xbf;1\n\xef\xbb\xbfx;2\r\n\xef\xbb\xbf\n")
    records, numbers, rejected = read_all(path, "csv", ["a", "b"], batch_bytes=batch_bytes)
    assert records == [{"a": "\ufeff", "b": "1"}, {"a": "\ufeffx", "b": "2"}]
    assert numbers == [1, 2]
    assert rejected == [(3, "wrong-field-count")]


_AWKWARD = ["x", "", "\ufeff", "\ufeffy", "é", "\x00", "\uffff", "a;b", "l\nm", "\r", '"', " "]


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(st.lists(st.sampled_from(_AWKWARD), min_size=1, max_size=3), max_size=30),
    batch_bytes=st.sampled_from([1, 2, 3, 17, 64]),
    line_end=st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_csv_any_chunking_reads_what_one_read_does(
    tmp_path: Path, rows: list[list[str]], batch_bytes: int, line_end: str
) -> None:
    """Awkward text at record starts and ends (BOM, NUL, U+FFFF, quotes, CR) with every
    chunk size: the same records as one read, each numbered once from 1."""
    rows = [row for row in rows if row != [""]]  # a lone empty field is a blank line

    def field(value: str) -> str:
        if any(ch in value for ch in ';"\r\n'):
            return '"' + value.replace('"', '""') + '"'
        return value

    text = "".join(";".join(map(field, row)) + line_end for row in [["a", "b"], *rows])
    path = write(tmp_path, "p.csv", text)
    whole = read_all(path, "csv", ["a", "b"])
    assert read_all(path, "csv", ["a", "b"], batch_bytes=batch_bytes) == whole
    _, numbers, rejected = whole
    counted = sorted(numbers + [n for n, _ in rejected])
    assert counted == list(range(1, len(counted) + 1))
    assert len(counted) == len(rows)


@pytest.mark.parametrize(
    "data", [b"a;b\n", b"a;b", b"\xef\xbb\xbfa;b\r\n\r\n\n", b"\n\na;b\r", b"a;b\r\n\r"]
)
def test_read_header_refuses_a_header_without_records(tmp_path: Path, data: bytes) -> None:
    """Corpus: a header-only export (cut short after its header?) must not publish an
    empty data set. The preflight refuses it; the reader itself reads no record."""
    path = write(tmp_path, "a.csv", data)
    with pytest.raises(InputError) as caught:
        read_header(path, "csv")
    assert caught.value.code == "empty-input"
    assert read_all(path, "csv", ["a", "b"]) == ([], [], [])


@pytest.mark.parametrize("data", [b"a;b\n \n", b"a;b\n1\n", b"a;b\n\x00", b"a;b\r\n\r\n;"])
def test_read_header_accepts_a_header_with_any_record(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, "a.csv", data)
    assert read_header(path, "csv") == ["a", "b"]


def test_read_header_refuses_parquet_without_rows(tmp_path: Path) -> None:
    path = str(tmp_path / "a.parquet")
    pq.write_table(pa.table({"a": pa.array([], pa.string())}), path)
    with pytest.raises(InputError) as caught:
        read_header(path, "parquet")
    assert caught.value.code == "empty-input"


def _bytes_column(kind: str) -> pa.Array:
    values = [b"ok", NIR.encode()[:1] + b"\xff", b"z\x00", None, b"fi"]  # all 2 bytes
    if kind == "binary":
        return pa.array(values, pa.binary())
    if kind == "large_binary":
        return pa.array(values, pa.large_binary())
    if kind == "fixed_size_binary":
        return pa.array(values, pa.binary(2))
    if kind == "binary_view":
        return pa.array(values, pa.binary_view())
    assert kind == "string_view"
    return pa.array(values, pa.binary_view()).view(pa.string_view())


@pytest.mark.parametrize(
    "kind", ["binary", "large_binary", "fixed_size_binary", "binary_view", "string_view"]
)
def test_parquet_text_stored_as_bytes_is_read_as_text(tmp_path: Path, kind: str) -> None:
    """Corpus: text stored as plain bytes (older writers) or in view types reached the
    policy's cast, which failed on the first byte that is not UTF-8 (exit 1). It is
    read as text; a value that is not UTF-8, or holds NUL, rejects its row."""
    path = str(tmp_path / "a.parquet")
    pq.write_table(pa.table({"a": _bytes_column(kind), "b": pa.array(range(5))}), path)
    records, numbers, rejected = read_all(path, "parquet", ["a", "b"])
    assert numbers == [1, 4, 5]
    assert records == [{"a": "ok", "b": 0}, {"a": None, "b": 3}, {"a": "fi", "b": 4}]
    assert rejected == [(2, "invalid-encoding"), (3, "invalid-encoding")]
    batch = next(iter_batches(path, "parquet", columns=["a", "b"]))
    assert pa.types.is_string(batch.table["a"].type) or pa.types.is_large_string(
        batch.table["a"].type
    )


def test_parquet_dictionary_text_is_read_as_plain_text(tmp_path: Path) -> None:
    path = str(tmp_path / "a.parquet")
    column = pa.array(["x", None, "y", "x"]).dictionary_encode()
    pq.write_table(pa.table({"a": column}), path)
    batch = next(iter_batches(path, "parquet", columns=["a"]))
    assert batch.table["a"].type == pa.string()
    assert batch.table["a"].to_pylist() == ["x", None, "y", "x"]


@pytest.mark.parametrize(
    "column",
    [
        pa.array([["x"], None]),
        pa.array([{"k": "x"}, None]),
        pa.array([[("k", 1)], None], pa.map_(pa.string(), pa.int64())),
        pa.array([["x"], None], pa.large_list(pa.string())),
    ],
)
def test_parquet_nested_columns_are_refused_by_name_or_position(
    tmp_path: Path, column: pa.Array
) -> None:
    """Corpus: a nested column reached the policy's cast to text (exit 1). It is refused
    before any row is read; a column name that does not look like one is not quoted."""
    path = str(tmp_path / "a.parquet")
    pq.write_table(pa.table({"ok": ["a", "b"], "nested_col": column}), path)
    for read in (
        lambda: read_header(path, "parquet"),
        lambda: read_all(path, "parquet", ["ok", "nested_col"]),
    ):
        with pytest.raises(InputError) as caught:
            read()
        assert caught.value.code == "unreadable-input"
        assert "column nested_col holds nested values" in str(caught.value)
    odd = str(tmp_path / "b.parquet")
    pq.write_table(pa.table({"ok": ["a", "b"], NAME: column}), odd)
    error = refusal(odd, "parquet", ["ok", NAME])
    assert "column #2 holds nested values" in str(error)


# --------------------------------------------------------------------------- read_columns


def _three_formats(tmp_path: Path, records: list[dict[str, str]]) -> dict[str, str]:
    """The same records as CSV, Parquet (strings) and JSON Lines."""
    names = list(records[0])
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, delimiter=";")
    writer.writerow(names)
    writer.writerows([list(r.values()) for r in records])
    table = pa.table({n: pa.array([r[n] for r in records], pa.string()) for n in names})
    pq.write_table(table, tmp_path / "r.parquet")
    lines = "".join(json.dumps(r) + "\n" for r in records)
    return {
        "csv": write(tmp_path, "r.csv", buffer.getvalue()),
        "parquet": str(tmp_path / "r.parquet"),
        "jsonl": write(tmp_path, "r.jsonl", lines),
    }


@pytest.mark.parametrize("fmt", FORMATS)
def test_read_columns_gives_only_those_in_their_order(tmp_path: Path, fmt: str) -> None:
    records = [{"a": f"a{i}", "b": f"b{i}", "c": f"c{i}", "d": f"d{i}"} for i in range(50)]
    path = _three_formats(tmp_path, records)[fmt]
    columns = ["a", "b", "c", "d"]
    got, numbers, rejected = read_all(path, fmt, columns, read_columns=["d", "b"], batch_bytes=100)
    assert got == [{"d": f"d{i}", "b": f"b{i}"} for i in range(50)]
    assert numbers == list(range(1, 51))
    assert rejected == []


@pytest.mark.parametrize("fmt", ["csv", "jsonl"])
def test_bad_text_in_a_column_not_read_still_rejects_its_record(tmp_path: Path, fmt: str) -> None:
    records = [{"nom": NAME, "libelle": f"L{i}"} for i in range(40)]
    records[7]["nom"] = "CANARY\x00DUPONT"
    # U+FFFF is text, but the CSV reader uses it to mark bytes that are not.
    records[31]["nom"] = "CANARY\uffffDUPONT" if fmt == "csv" else "\x00"
    path = _three_formats(tmp_path, records)[fmt]
    got, numbers, rejected = read_all(
        path, fmt, ["nom", "libelle"], read_columns=["libelle"], batch_bytes=64
    )
    assert rejected == [(8, "invalid-encoding"), (32, "invalid-encoding")]
    assert numbers == [n for n in range(1, 41) if n not in (8, 32)]
    assert got == [{"libelle": f"L{n - 1}"} for n in numbers]


def test_parquet_checks_only_the_columns_read(tmp_path: Path) -> None:
    """Parquet holds typed values: a column the policy does not read is never decoded."""
    path = tmp_path / "p.parquet"
    names = pa.array([b"CANARY\x00DUPONT", b"DUPONT \xe9", b"ok"], pa.binary())
    labels = pa.array([b"L1", b"L2", b"L\x003"], pa.binary())
    pq.write_table(pa.table({"nom": names, "libelle": labels}), path)
    got, numbers, rejected = read_all(
        str(path), "parquet", ["nom", "libelle"], read_columns=["libelle"]
    )
    assert rejected == [(3, "invalid-encoding")]
    assert numbers == [1, 2]
    assert got == [{"libelle": "L1"}, {"libelle": "L2"}]
    _, _, every = read_all(str(path), "parquet", ["nom", "libelle"])
    assert every == [(1, "invalid-encoding"), (2, "invalid-encoding"), (3, "invalid-encoding")]


def test_csv_bytes_not_text_in_a_column_not_read_reject_their_record(tmp_path: Path) -> None:
    lines = [b"nom;libelle\n"] + [b"N%d;L%d\n" % (i, i) for i in range(1, 301)]
    lines[120] = b"DUPONT \xe9\x80;L120\n"  # not UTF-8, in a column not read
    path = write(tmp_path, "b.csv", b"".join(lines))
    got, numbers, rejected = read_all(
        path, "csv", ["nom", "libelle"], read_columns=["libelle"], batch_bytes=256
    )
    assert rejected == [(120, "invalid-encoding")]
    assert got == [{"libelle": f"L{n}"} for n in numbers]
    assert numbers == [n for n in range(1, 301) if n != 120]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    rows=st.lists(
        st.lists(
            st.sampled_from(["x", "", "a;b", "l\nm", 'q"q', "n\x00l", "\uffff", "é"]),
            min_size=2,
            max_size=4,
        ),
        max_size=40,
    ),
    read=st.sampled_from([["a"], ["c"], ["c", "a"], ["a", "b", "c"]]),
    batch_bytes=st.sampled_from([1, 50, 700, DEFAULT_BATCH_BYTES]),
)
def test_csv_read_columns_property(
    tmp_path: Path, rows: list[list[str]], read: list[str], batch_bytes: int
) -> None:
    """Reading some columns gives the records and rejections of reading them all."""
    columns = ["a", "b", "c"]
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";").writerows([columns, *rows])
    path = write(tmp_path, "r.csv", buffer.getvalue())
    every = read_all(path, "csv", columns, batch_bytes=batch_bytes)
    some = read_all(path, "csv", columns, read_columns=read, batch_bytes=batch_bytes)
    assert some[1:] == every[1:]
    assert some[0] == [{name: record[name] for name in read} for record in every[0]]


def test_read_columns_must_be_among_columns(tmp_path: Path) -> None:
    path = write(tmp_path, "a.csv", "a;b\n1;2\n")
    with pytest.raises(ValueError, match="among columns"):
        list(iter_batches(path, "csv", columns=["a", "b"], read_columns=["z"]))


@pytest.mark.parametrize(
    ("data", "valid"),
    [
        (b"", True),
        ("Glycémie à jeun €".encode(), True),
        (b"plain ascii;text\n", True),
        (b"caf\xe9", False),  # cp1252
        (b"\xc0\xaf", False),  # overlong
        (b"\xed\xa0\x80", False),  # surrogate
        (b"\xe2\x82", False),  # cut short
    ],
)
def test_is_utf8(data: bytes, valid: bool) -> None:
    assert readers._is_utf8(data) is valid


def test_parquet_batches_are_sized_by_the_columns_read(tmp_path: Path) -> None:
    path = tmp_path / "wide.parquet"
    big = pa.array([f"{i:04d}" + "x" * 1000 for i in range(2000)], pa.string())
    small = pa.array([f"{i:04d}" for i in range(2000)], pa.string())
    pq.write_table(pa.table({"comment": big, "code": small}), path, compression="none")
    pf = pq.ParquetFile(path)
    every = readers._parquet_batch_rows(pf, ["comment", "code"], 100_000)
    some = readers._parquet_batch_rows(pf, ["code"], 100_000)
    assert every < 200 < 10_000 < some
