"""A corpus of malformed exports, run through the CLI: nothing is lost, nothing leaks.

Every case starts from a small synthetic export with the planted canary row (conftest)
and corrupts it. Row-level corruptions of one format share one run, each checked by its
record number in rejected/; file-level corruptions get a run each. For every run:

- the exit code is 0 or 3, never 1, and the console never holds a traceback;
- exit 0: rows_in == rows_out + rows_rejected, every planted row is where it should
  be (rejected with its reason code and column, or published), and rejected/ names
  exactly the planted rows (file, record number, column, reason; no value);
- exit 3: one line on stderr naming the reason code, and no output directory;
- no canary, in any spelling, in any output file (Parquet decoded), report or console.

Decisions these tests pin down:

- A birth date after the sampling date rejects its row (`birth-after-reference`), and
  so does one in the future, which is necessarily after the sampling date unless the
  sampling date is in the future too. A sampling date in the future is accepted:
  rejecting it would make the output depend on the day of the run (promise 4), and
  the policy's year range (1850-2200) already refuses absurd dates.
- Control characters other than NUL are text: a value holding them is kept, dropped
  or tokenised like any other (a date holding one is not a date). NUL and bytes that
  are not text in the declared encoding reject their row (`invalid-encoding`).
- A 10 MB field is data like any other: in a dropped free-text column the row is
  published; in a date column it is an invalid date.
- A quote opened in a field and closed records later merges those records into one
  (that is what the CSV says); with the wrong number of fields it is rejected as
  `wrong-field-count`. A quote never closed refuses the whole file (exit 3).
- A header with no record after it refuses the file (`empty-input`), like an empty file:
  an export cut short after its header must not publish an empty data set.
- Invalid NIRs follow the policy: rejected (`invalid-nir`) with `on_invalid: reject`,
  flagged and published with a null token with the shipped `on_invalid: "null"`.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from pipeline.sample import COLUMNS
from schemas.errors import INPUT_REASONS
from schemas.loader import shipped_policy_path
from tests.e2e.conftest import (
    CANARIES,
    CANARY_NIR_BODY,
    CANARY_ROW,
    run_export,
    write_export,
)
from tests.e2e.test_cli_run import everything_written, independent_token
from transforms.nir import nir_key, normalise_nir_array

ROWS = 300  # synthetic rows before the canary row; the canary row is record ROWS + 1
FIRST_CASE = ROWS + 2  # record number of the first planted case
MB10 = 10 * 1024 * 1024
POLICY_HEAD = "lab-export-v1"


# --------------------------------------------------------------------------- helpers


def csv_record(values: list[str]) -> bytes:
    """One record in the export's dialect (quoted only where needed), as UTF-8."""
    buffer = io.StringIO(newline="")
    csv.writer(buffer, delimiter=";", lineterminator="\n").writerow(values)
    return buffer.getvalue().encode("utf-8")


def canary_values(case: int, **changes: str) -> list[str]:
    """The canary row with its own patient id (to find it in data/) and `changes`."""
    row = dict(CANARY_ROW, ipp_patient=f"{CANARY_ROW['ipp_patient']}-{case:03d}", **changes)
    return [row[name] for name in COLUMNS]


def canary_record(case: int, **changes: str) -> bytes:
    return csv_record(canary_values(case, **changes))


def patched(case: int, column: str, raw: bytes, **changes: str) -> bytes:
    """The canary record with the field `column` written as the raw bytes `raw`."""
    marker = f"@@{column}@@"
    record = canary_record(case, **{column: marker}, **changes)
    return record.replace(marker.encode(), raw)


def table_of(csv_path: Path) -> pa.Table:
    """A CSV export as a table of strings, for the Parquet and JSON Lines variants."""
    return pacsv.read_csv(
        csv_path,
        parse_options=pacsv.ParseOptions(delimiter=";", newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in COLUMNS},
            strings_can_be_null=True,
            null_values=[""],
        ),
    )


def run_cli(export: Path | str, output: Path, keyring: Path, policy: str, *extra: str):
    return run_export(export, output, keyring, *extra, policy=policy)


def leaked(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary.lower() in text.lower()]


def assert_clean_console(result) -> None:
    assert result.code in (0, 3), (result.code, result.stderr[-2000:])
    assert "Traceback" not in result.console
    assert leaked(result.console) == []


@dataclass(frozen=True)
class Planted:
    """A planted record: rejected with `reason` at `column`, or published (reason None)."""

    name: str
    data: bytes
    reason: str | None = None
    column: str | None = None


def check_published_run(
    result,
    output: Path,
    export: Path,
    keyring: Path,
    planted: dict[int, Planted],
    rows_in: int,
    also_rejected: dict[int, tuple[str, str | None]] | None = None,
) -> dict:
    """The assertions every exit-0 run of the corpus shares; returns the report."""
    assert_clean_console(result)
    assert result.code == 0, result.stderr
    report = json.loads((output / "report.json").read_text())
    assert report["rows_in"] == rows_in
    assert report["rows_in"] == report["rows_out"] + report["rows_rejected"]

    rejected = pq.read_table(output / "rejected")
    assert set(rejected.column_names) == {"source_file", "source_row", "column", "reason"}
    assert set(rejected["source_file"].to_pylist()) <= {str(export.resolve())}
    found = {row["source_row"]: (row["reason"], row["column"]) for row in rejected.to_pylist()}
    assert len(found) == rejected.num_rows, "a record is rejected once"
    expected = {n: (p.reason, p.column) for n, p in planted.items() if p.reason is not None}
    expected.update(also_rejected or {})
    wrong = {
        n: (planted[n].name if n in planted else "sample", found.get(n), expected.get(n))
        for n in set(found) | set(expected)
        if found.get(n) != expected.get(n)
    }
    assert wrong == {}, "record: (case, rejected as, expected)"
    assert report["rejected_by_reason"] == dict(Counter(r for r, _ in expected.values()))

    data = pq.read_table(output / "data")
    for number, case in planted.items():
        if case.name.startswith("no-id:"):
            continue
        token = independent_token(keyring, "patient", f"{CANARY_ROW['ipp_patient']}-{number:03d}")
        published = pc.sum(pc.equal(data["patient_token"], token)).as_py() or 0
        assert published == (case.reason is None), (number, case.name, published)

    written = everything_written(output) + result.console
    assert leaked(written) == []
    return report


def row_by_token(output: Path, keyring: Path, number: int) -> dict:
    data = pq.read_table(output / "data")
    token = independent_token(keyring, "patient", f"{CANARY_ROW['ipp_patient']}-{number:03d}")
    return data.filter(pc.equal(data["patient_token"], token)).to_pylist()[0]


def invalid_nir_rows(csv_path: Path) -> list[int]:
    """Record numbers of the rows of an export whose NIR is invalid."""
    _, invalid = normalise_nir_array(table_of(csv_path)["nir"].combine_chunks())
    return [i + 1 for i, bad in enumerate(invalid.to_pylist()) if bad]


def assert_refused(result, output: Path, code: str) -> None:
    """Exit 3 with one line naming `code`, nothing published, no staging left behind."""
    assert_clean_console(result)
    assert result.code == 3, (result.code, result.stderr[-2000:])
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"pseudolab: {code}: "), lines[0]
    assert not output.exists()
    assert not [p for p in output.parent.iterdir() if "staging" in p.name]


# --------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("malformed")


@pytest.fixture(scope="module")
def sample(workdir: Path) -> Path:
    """ROWS synthetic rows and the canary row: the base of every case."""
    return write_export(workdir / "sample.csv", ROWS, [CANARY_ROW])


@pytest.fixture(scope="module")
def row_policy(workdir: Path) -> Path:
    """The shipped policy minus its privacy gate, adjusted so that every row-level
    check has a column to act on: invalid NIRs reject their row, and two dropped
    quasi-identifiers are kept as an integer and a number (the shipped policy declares
    no numeric column, and dropped columns are never parsed)."""
    text = shipped_policy_path(POLICY_HEAD).read_text(encoding="utf-8").split("\nprivacy:")[0]
    replacements = {
        '    on_invalid: "null"\n': "    on_invalid: reject\n",
        "  - {name: code_postal, action: drop}": (
            "  - {name: code_postal, type: number, action: keep}"
        ),
        "  - {name: medecin_prescripteur_cp, action: drop}": (
            "  - {name: medecin_prescripteur_cp, type: integer, action: keep}"
        ),
        "    - indicateur_anormal\n": (
            "    - indicateur_anormal\n    - code_postal\n    - medecin_prescripteur_cp\n"
        ),
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    path = workdir / "row-policy.yaml"
    path.write_text(text + "\n", encoding="utf-8")
    return path


# --------------------------------------------------------------------------- CSV, row level


def _wrong_key_nir() -> str:
    wrong = nir_key(CANARY_NIR_BODY) % 97 + 1  # keys run from 1 to 97: never the right one
    return f"{CANARY_NIR_BODY} {wrong:02d}"


def _big_comment() -> str:
    chunk = 'CANARYCOMMENT ; "suivi" Dr Canary\n'
    return chunk * (MB10 // len(chunk) + 1)


BIRTH, SAMPLED = "date_naissance", "date_prelevement"
CP, POSTCODE = "medecin_prescripteur_cp", "code_postal"
ENCODING = "invalid-encoding"


def _rec(**changes: str):
    return lambda n: canary_record(n, **changes)


def _raw(column: str, raw: bytes):
    return lambda n: patched(n, column, raw)


def csv_row_cases(first: int) -> dict[int, Planted]:
    """The planted records, by record number from `first`; each is one record."""
    cases = [
        # name, builder(record number) -> bytes, reason (None: published), column
        ("too-few-fields", lambda n: csv_record(canary_values(n)[:-1]), "wrong-field-count", None),
        (
            "too-many-fields",
            lambda n: csv_record([*canary_values(n), "x"]),
            "wrong-field-count",
            None,
        ),
        ("31-february", _rec(date_naissance="31/02/1984"), "invalid-date", BIRTH),
        ("29-february-1983", _rec(date_naissance="29/02/1983"), "invalid-date", BIRTH),
        ("year-0", _rec(date_naissance="01/01/0000"), "invalid-date", BIRTH),
        ("day-0", _rec(date_naissance="00/05/1984"), "invalid-date", BIRTH),
        ("year-1849", _rec(date_naissance="17/05/1849"), "invalid-date", BIRTH),
        ("iso-date", _rec(date_naissance="1984-05-17"), "invalid-date", BIRTH),
        ("unpadded-date", _rec(date_naissance="17/5/1984"), "invalid-date", BIRTH),
        ("future-birth", _rec(date_naissance="01/01/2099"), "birth-after-reference", BIRTH),
        ("birth-after-sampling", _rec(date_naissance="02/03/2021"), "birth-after-reference", BIRTH),
        ("birth-on-sampling-day", _rec(date_naissance="01/03/2021"), None, None),
        (
            "future-sampling",
            _rec(date_prelevement="01/03/2031 08:12", date_validation="01/03/2031 10:01"),
            None,
            None,
        ),
        ("hour-25", _rec(date_prelevement="01/03/2021 25:00"), "invalid-datetime", SAMPLED),
        ("31-april", _rec(date_prelevement="31/04/2021 08:12"), "invalid-datetime", SAMPLED),
        ("date-with-spaces", _rec(date_naissance="  17/05/1984 "), None, None),
        ("blank-date-is-null", _rec(date_naissance="   "), None, None),
        ("nir-wrong-key", _rec(nir=_wrong_key_nir()), "invalid-nir", "nir"),
        ("nir-garbage", _rec(nir="NIR ZORGLUBCANARY 0699887766"), "invalid-nir", "nir"),
        ("integer-letters", _rec(medecin_prescripteur_cp="56OOO"), "invalid-integer", CP),
        ("number-two-commas", _rec(code_postal="12,3,4"), "invalid-number", POSTCODE),
        ("number-nan", _rec(code_postal="NaN"), "invalid-number", POSTCODE),
        ("number-infinite", _rec(code_postal="1e400"), "invalid-number", POSTCODE),
        (
            "controls-in-free-text",
            _rec(commentaire_resultat="\x01\x1b[0m\x7f\x0c CANARYCOMMENT"),
            None,
            None,
        ),
        ("control-in-date", _rec(date_naissance="17/05/1984\x01"), "invalid-date", BIRTH),
        ("control-in-token", _rec(numero_dossier="DCANARY-0001\x07"), None, None),
        ("nul-in-free-text", _rec(renseignements_cliniques="CANARYCLINIC\x00VIH"), ENCODING, None),
        ("nul-in-kept-column", _rec(libelle_analyse="Glyc\x00mie"), ENCODING, None),
        (
            "cp1252-in-kept-column",
            _raw("libelle_analyse", "Glycémie".encode("cp1252")),
            ENCODING,
            None,
        ),
        (
            "cp1252-in-name",
            _raw("nom_naissance", "ZORGLUBCANARY É".encode("cp1252")),
            ENCODING,
            None,
        ),
        ("lone-continuation-byte", _raw("preleveur", b"IDE CANARYNURSE \x80"), ENCODING, None),
        ("utf8-surrogate", _raw("prenoms", b"Canaryfirstname\xed\xa0\x80"), ENCODING, None),
        ("overlong-utf8", _raw("ville", b"Canaryville\xc0\xaf"), ENCODING, None),
        ("noncharacter-ffff", _rec(adresse="77 rue du Canari \uffff"), ENCODING, None),
        ("10mb-free-text", _rec(commentaire_resultat=_big_comment()), None, None),
        ("10mb-date", _rec(date_naissance="1" * MB10), "invalid-date", BIRTH),
        (
            "no-id:repeated-header",
            lambda n: ";".join(COLUMNS).encode() + b"\n",
            "invalid-date",
            BIRTH,
        ),
        ("no-id:all-fields-empty", lambda n: b";" * (len(COLUMNS) - 1) + b"\n", None, None),
        ("bare-quote-in-field", _raw("nom_naissance", b'O"ZORGLUBCANARY'), None, None),
        ("crlf-line-end", lambda n: canary_record(n)[:-1] + b"\r\n", None, None),
        ("blank-lines-before", lambda n: b"\n\r\n\n" + canary_record(n), None, None),
    ]
    return {
        number: Planted(name, build(number), reason, column)
        for number, (name, build, reason, column) in enumerate(cases, first)
    }


def merged_by_an_open_quote(first: int) -> tuple[bytes, Planted]:
    """Two records merged by a quote opened in one and closed in the next: 51 fields."""
    values = canary_values(first, commentaire_resultat="x", mot_de_passe_portail="x")
    opened = ";".join(values[:33]) + ';"CANARYCLINIC ' + ";".join(values[34:]) + "\n"
    closed = canary_values(first + 1, commentaire_resultat="x", mot_de_passe_portail="x")
    closing = ";".join(closed[:19]) + ';19999999999";' + ";".join(closed[20:]) + "\n"
    assert opened.count('"') == closing.count('"') == 1
    data = (opened + closing).encode()
    return data, Planted("merged-by-an-open-quote", data, "wrong-field-count", None)


def test_csv_row_level_corruptions_are_rejected_and_counted(
    workdir, sample, row_policy, module_keyring, tmp_path
):
    planted = csv_row_cases(FIRST_CASE)
    merge_at = FIRST_CASE + len(planted)
    _, merge_case = merged_by_an_open_quote(merge_at)
    planted[merge_at] = merge_case
    export = tmp_path / "export.csv"
    with open(export, "wb") as handle:
        handle.write(sample.read_bytes())
        for case in planted.values():
            handle.write(case.data)
    output = tmp_path / "out"

    result = run_cli(export, output, module_keyring, str(row_policy), "--max-rejected-ratio", "1")

    sample_invalid_nir = {n: ("invalid-nir", "nir") for n in invalid_nir_rows(sample)}
    check_published_run(
        result, output, export, module_keyring, planted, merge_at, sample_invalid_nir
    )
    by_name = {case.name: number for number, case in planted.items()}
    assert row_by_token(output, module_keyring, by_name["birth-on-sampling-day"])["classe_age"] == (
        "0-4"
    )
    future = row_by_token(output, module_keyring, by_name["future-sampling"])
    assert future["mois_prelevement"] == "2031-03" and future["classe_age"] == "45-49"
    blank = row_by_token(output, module_keyring, by_name["blank-date-is-null"])
    assert blank["classe_age"] is None
    spaced = row_by_token(output, module_keyring, by_name["date-with-spaces"])
    assert spaced["classe_age"] == "35-39"


def test_gate_on_shipped_policy_with_row_corruptions(workdir, module_keyring, tmp_path):
    """The shipped policy as is (privacy gate on, default rejected ratio): invalid NIRs
    are flagged and published with a null token; the gate may suppress rows as
    `k-anonymity`, and those too are counted."""
    export = write_export(tmp_path / "export.csv", 1000, [CANARY_ROW], seed=3)
    base = 1000 + 2
    cases = [
        ("wrong-field-count", lambda n: csv_record(canary_values(n)[:-2]), "wrong-field-count"),
        ("31-february", _rec(date_naissance="31/02/1984"), "invalid-date"),
        ("future-birth", _rec(date_naissance="01/01/2099"), "birth-after-reference"),
        ("nul", _rec(prenoms="Canary\x00first"), ENCODING),
        ("cp1252", _raw("ville", "Canaryvillé".encode("cp1252")), ENCODING),
        ("invalid-nir-flagged", _rec(nir=_wrong_key_nir()), None),
    ]
    planted = {
        number: Planted(name, build(number), reason)
        for number, (name, build, reason) in enumerate(cases, base)
    }
    flagged_before = len(invalid_nir_rows(export))
    with open(export, "ab") as handle:
        for case in planted.values():
            handle.write(case.data)
    output = tmp_path / "out"

    result = run_cli(export, output, module_keyring, POLICY_HEAD)

    assert_clean_console(result)
    assert result.code == 0, result.stderr
    report = json.loads((output / "report.json").read_text())
    assert report["rows_in"] == base + len(planted) - 1
    assert report["rows_in"] == report["rows_out"] + report["rows_rejected"]
    assert report["privacy"]["k_achieved"] >= 5
    rejected = {
        row["source_row"]: row["reason"] for row in pq.read_table(output / "rejected").to_pylist()
    }
    for number, case in planted.items():
        if case.reason is not None:
            assert rejected.get(number) == case.reason, case.name
        else:
            assert rejected.get(number) in (None, "k-anonymity"), case.name
    others = {reason for number, reason in rejected.items() if number not in planted}
    assert others <= {"k-anonymity"}
    assert report["flags"]["invalid-nir"]["nir"] == flagged_before + 1
    assert leaked(everything_written(output) + result.console) == []


# --------------------------------------------------------------------------- JSON Lines, Parquet


def test_jsonl_row_level_corruptions_are_rejected_and_counted(
    sample, row_policy, module_keyring, tmp_path
):
    lines = [
        json.dumps({k: v for k, v in row.items() if v is not None}, ensure_ascii=False)
        for row in table_of(sample).to_pylist()
    ]
    base = dict(zip(COLUMNS, canary_values(0), strict=True))

    def line(n: int, **changes: object) -> str:
        record = dict(base, ipp_patient=f"{CANARY_ROW['ipp_patient']}-{n:03d}", **changes)
        return json.dumps(record, ensure_ascii=False)

    # Line numbers: the sample takes lines 1..ROWS+1, a blank line follows.
    n = ROWS + 3
    surrogate = line(n + 7).replace("ZORGLUBCANARY", "ZORGLUB\\ud800CANARY")
    texts = {
        n: ("truncated", line(n)[:-7], "invalid-json"),
        n + 1: ("nested", line(n + 1, nom_naissance={"nom": "ZORGLUBCANARY"}), "invalid-json"),
        n + 2: ("no-id:array", json.dumps(list(base.values())), "invalid-json"),
        n + 3: ("duplicate-key", line(n + 3)[:-1] + ', "nom_usage": "X"}', "invalid-json"),
        n + 4: ("unknown-key", line(n + 4, champ_inconnu="PCANARY001"), "unknown-column"),
        n + 5: ("nan-constant", line(n + 5)[:-1] + ', "code_postal": NaN}', "invalid-json"),
        n + 6: ("nul-escape", line(n + 6, prenoms="Canary\x00firstname"), ENCODING),
        n + 7: ("lone-surrogate", surrogate, ENCODING),
        n + 8: ("31-february", line(n + 8, date_naissance="31/02/1984"), "invalid-date"),
        n + 9: ("json-number", line(n + 9, medecin_prescripteur_cp=56000), None),
        n + 10: ("missing-keys", json.dumps({"ipp_patient": f"PCANARY001-{n + 10:03d}"}), None),
        n + 11: ("no-id:not-an-object", '"PCANARY001"', "invalid-json"),
    }
    data = ("\n".join(lines) + "\n\n").encode()
    for number in sorted(texts):
        data += texts[number][1].encode() + b"\n"
    cp1252_line = n + 12
    data += (
        line(cp1252_line)
        .replace("Glycémie", "GLYCEMIE-@@")
        .encode()
        .replace(b"@@", "é".encode("cp1252"))
        + b"\n"
    )
    export = tmp_path / "export.jsonl"
    export.write_bytes(data)
    columns = {"invalid-date": "date_naissance"}
    planted = {
        number: Planted(name, b"", reason, columns.get(reason or ""))
        for number, (name, _, reason) in texts.items()
    }
    planted[cp1252_line] = Planted("cp1252-byte", b"", "invalid-encoding")
    output = tmp_path / "out"

    result = run_cli(export, output, module_keyring, str(row_policy), "--max-rejected-ratio", "1")

    sample_invalid_nir = {n: ("invalid-nir", "nir") for n in invalid_nir_rows(sample)}
    report = check_published_run(
        result, output, export, module_keyring, planted, ROWS + 1 + len(planted),
        sample_invalid_nir,
    )  # fmt: skip
    assert report["inputs"][0]["format"] == "jsonl"


def test_parquet_row_level_corruptions_are_rejected_and_counted(
    sample, row_policy, module_keyring, tmp_path
):
    """Text stored as plain bytes (older writers) and native types out of range."""
    rows = table_of(sample).to_pylist()
    extra = {
        ROWS + 2: ("binary-not-utf8", {"libelle_analyse": "GLYC@@MIE"}, ENCODING, None),
        ROWS + 3: ("nul-in-text", {"resultat_unite": "mmol\x00CANARY"}, ENCODING, None),
        ROWS + 4: ("31-february", {BIRTH: "31/02/1984"}, "invalid-date", BIRTH),
        ROWS + 5: ("not-an-integer", {CP: "1.5"}, "invalid-integer", CP),
        ROWS + 6: ("not-a-number", {POSTCODE: "nan"}, "invalid-number", POSTCODE),
        ROWS + 7: ("published", {}, None, None),
        # Parquet holds typed values: a dropped column is never decoded, nor checked.
        ROWS + 8: ("nul-in-dropped-text", {"nom_naissance": "ZORGLUB\x00CANARY"}, None, None),
        ROWS + 9: ("bytes-in-dropped-column", {"nom_naissance": "ZORGLUB@@CANARY"}, None, None),
    }
    for number, (_, changes, _, _) in extra.items():
        assert set(changes) <= set(COLUMNS)
        rows.append(dict(canary_row_dict(number), **changes))
    columns: dict[str, pa.Array] = {}
    for name in COLUMNS:
        values = [row[name] for row in rows]
        if name in ("medecin_prescripteur_cp", "code_postal"):
            columns[name] = pa.array([None if v is None else float(v) for v in values])
        elif name in ("libelle_analyse", "nom_naissance"):
            raw = [None if v is None else v.encode().replace(b"@@", b"\xc9") for v in values]
            columns[name] = pa.array(raw, pa.binary())  # BYTE_ARRAY without UTF8 annotation
        elif name == "sexe":
            columns[name] = pa.array(values).dictionary_encode()
        else:
            columns[name] = pa.array(values, pa.string())
    export = tmp_path / "export.parquet"
    pq.write_table(pa.table(columns), export, row_group_size=100)
    planted = {
        number: Planted(name, b"", reason, column)
        for number, (name, _, reason, column) in extra.items()
    }
    output = tmp_path / "out"

    result = run_cli(export, output, module_keyring, str(row_policy), "--max-rejected-ratio", "1")

    sample_invalid_nir = {n: ("invalid-nir", "nir") for n in invalid_nir_rows(sample)}
    check_published_run(
        result, output, export, module_keyring, planted, ROWS + 1 + len(extra), sample_invalid_nir
    )


def canary_row_dict(number: int) -> dict[str, str]:
    return dict(zip(COLUMNS, canary_values(number), strict=True))


# --------------------------------------------------------------------------- file level


def _parquet_bytes(sample: Path) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table_of(sample), buffer, compression="none")
    return buffer.getvalue()


def _damaged_pages(sample: Path) -> bytes:
    data = bytearray(_parquet_bytes(sample))
    for i in range(8, len(data) // 2):  # the pages; the footer stays readable
        data[i] = 0xFF
    return bytes(data)


def _header(sample: Path) -> bytes:
    return sample.read_bytes().split(b"\n", 1)[0]


def _body(sample: Path) -> bytes:
    return sample.read_bytes().split(b"\n", 1)[1]


def _nested_parquet(sample: Path) -> bytes:
    table = table_of(sample)
    index = table.column_names.index("adresse")
    nested = pa.array([{"rue": v} for v in table["adresse"].to_pylist()])
    buffer = io.BytesIO()
    pq.write_table(table.set_column(index, "adresse", nested), buffer)
    return buffer.getvalue()


def _zero_rows_parquet(sample: Path) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table_of(sample).slice(0, 0), buffer)
    return buffer.getvalue()


def _replaced(old: bytes, new: bytes):
    return lambda s: s.read_bytes().replace(old, new, 1)


def _same(s: Path) -> bytes:
    return s.read_bytes()


def _unclosed_quote(s: Path) -> bytes:
    return s.read_bytes() + b'D1;"PCANARY001 ZORGLUBCANARY;x\nCANARYCLINIC;y\n'


def _long_header(s: Path) -> bytes:
    return b"x" * (1024 * 1024 + 10) + b"\n" + _body(s)


UNREADABLE, EMPTY = "unreadable-input", "empty-input"

# name -> (file name, content built from the sample; None: no file), expected code
FILE_CASES = {
    "empty-file": ("export.csv", lambda s: b"", EMPTY),
    "header-only": ("export.csv", lambda s: _header(s) + b"\n", EMPTY),
    "header-then-blank-lines": ("export.csv", lambda s: _header(s) + b"\r\n\n\n", EMPTY),
    "blank-lines-only": ("export.csv", lambda s: b"\n\r\n\n", EMPTY),
    "bom-only": ("export.csv", lambda s: b"\xef\xbb\xbf", EMPTY),
    "parquet-without-rows": ("export.parquet", _zero_rows_parquet, EMPTY),
    "parquet-truncated": ("export.parquet", lambda s: _parquet_bytes(s)[:5000], UNREADABLE),
    "parquet-without-footer": ("export.parquet", lambda s: _parquet_bytes(s)[:-8], UNREADABLE),
    "parquet-damaged-pages": ("export.parquet", _damaged_pages, UNREADABLE),
    "parquet-nested-column": ("export.parquet", _nested_parquet, UNREADABLE),
    "parquet-named-csv": ("export.csv", _parquet_bytes, UNREADABLE),
    "csv-named-parquet": ("export.parquet", _same, UNREADABLE),
    "csv-named-jsonl": ("export.jsonl", _same, UNREADABLE),
    "gzip-named-csv": ("export.csv", lambda s: gzip.compress(s.read_bytes()), UNREADABLE),
    "utf16-csv": ("export.csv", lambda s: s.read_text("utf-8").encode("utf-16"), UNREADABLE),
    "unknown-extension": ("export.xlsx", _same, UNREADABLE),
    "nul-in-header": ("export.csv", _replaced(b"sexe", b"se\x00xe"), UNREADABLE),
    "header-beyond-1mib": ("export.csv", _long_header, UNREADABLE),
    "unclosed-quote-to-the-end": ("export.csv", _unclosed_quote, UNREADABLE),
    "glob-matches-nothing": ("nothing-*.csv", None, "no-input"),
    "missing-file": ("missing.csv", None, "no-input"),
    "directory-named-csv": ("export.csv", "directory", "no-input"),
    "renamed-column": ("export.csv", _replaced(b"nom_usage", b"nom_marital"), "unknown-column"),
    "missing-column": (
        "export.csv",
        _replaced(b";mot_de_passe_portail\n", b"\n"),
        "missing-column",
    ),
    "duplicate-header": (
        "export.csv",
        _replaced(b"nom_usage", b"nom_naissance"),
        "duplicate-header",
    ),
}


@pytest.mark.parametrize("case", FILE_CASES)
def test_file_level_corruption_refuses_with_one_line(case, sample, module_keyring, tmp_path):
    name, content, code = FILE_CASES[case]
    assert code in INPUT_REASONS
    inputs = tmp_path / "in"
    inputs.mkdir()
    export = inputs / name
    if content == "directory":
        export.mkdir()
    elif content is not None:
        export.write_bytes(content(sample))
    output = tmp_path / "out"

    result = run_cli(export, output, module_keyring, POLICY_HEAD)

    assert_refused(result, output, code)
    # Only the (empty) lock file may stay beside the output: never a staging directory.
    leftovers = [p.name for p in tmp_path.iterdir() if p.name not in ("in", "out")]
    assert [name for name in leftovers if not name.endswith(".pseudolab-lock")] == []


def test_header_mismatch_names_columns_never_values(sample, module_keyring, tmp_path):
    """A file whose first line is a record: the message gives positions, not values."""
    export = tmp_path / "export.csv"
    export.write_bytes(canary_record(1) + _body(sample))
    result = run_cli(export, tmp_path / "out", module_keyring, POLICY_HEAD)
    assert_refused(result, tmp_path / "out", "duplicate-header")
    assert "#" in result.stderr
    assert "56000" not in result.stderr


def test_every_planted_row_level_case_is_a_single_record(monkeypatch):
    """The corpus itself: each planted CSV case is one record of the declared width
    unless it is meant to have another, so that record numbers line up."""
    monkeypatch.setattr(csv, "field_size_limit", csv.field_size_limit)
    csv.field_size_limit(2 * MB10)
    planted = csv_row_cases(FIRST_CASE)
    width_cases = {"too-few-fields": len(COLUMNS) - 1, "too-many-fields": len(COLUMNS) + 1}
    for case in planted.values():
        text = case.data.decode("utf-8", "surrogateescape").replace("\x00", " ")
        records = [r for r in csv.reader(io.StringIO(text, newline=""), delimiter=";") if r]
        assert len(records) == 1, case.name
        assert len(records[0]) == width_cases.get(case.name, len(COLUMNS)), case.name
