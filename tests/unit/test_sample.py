"""The synthetic sample generator: format, determinism, realism and the invalid rows."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import os
import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from pipeline.sample import COLUMNS, INVALID_NIR_SHARE, SampleSummary, write_sample
from transforms.nir import clean_nir, nir_key, normalise_nir_array

ROWS = 20_000
SEED = 7
C = {name: i for i, name in enumerate(COLUMNS)}


def _read(path: Path, encoding: str = "utf-8") -> tuple[list[str], list[list[str]]]:
    with open(path, encoding=encoding, newline="") as handle:
        records = list(csv.reader(handle, delimiter=";"))
    return records[0], records[1:]


def _parse_date(text: str) -> dt.date | None:
    try:
        return dt.datetime.strptime(text, "%d/%m/%Y").date()
    except ValueError:
        return None


def _parse_datetime(text: str) -> dt.datetime | None:
    try:
        return dt.datetime.strptime(text, "%d/%m/%Y %H:%M")
    except ValueError:
        return None


@pytest.fixture(scope="module")
def sample(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, SampleSummary, list]:
    path = tmp_path_factory.mktemp("sample") / "export.csv"
    summary = write_sample(path, ROWS, seed=SEED)
    header, rows = _read(path)
    assert header == list(COLUMNS)
    return path, summary, rows


def test_columns_are_the_37_of_the_reference() -> None:
    assert len(COLUMNS) == 37 == len(set(COLUMNS))
    assert COLUMNS[:3] == ("numero_dossier", "ipp_patient", "nir")
    assert COLUMNS[22:25] == ("date_prelevement", "date_validation", "laboratoire_finess")
    assert COLUMNS[-2:] == ("identifiant_portail", "mot_de_passe_portail")


def test_header_line_and_line_endings(sample) -> None:
    path, _, _ = sample
    data = path.read_bytes()
    assert data.startswith(";".join(COLUMNS).encode() + b"\n")
    assert b"\r" not in data
    assert data.endswith(b"\n")


@pytest.mark.parametrize("rows", [0, 1, 7, 250])
def test_exact_row_count(tmp_path: Path, rows: int) -> None:
    path = tmp_path / "small.csv"
    summary = write_sample(path, rows, seed=3)
    header, records = _read(path)
    assert header == list(COLUMNS)
    assert len(records) == summary.rows == rows
    assert summary.patients == len({r[C["ipp_patient"]] for r in records})
    assert summary.requests == len({r[C["numero_dossier"]] for r in records})


def test_every_record_parses_into_37_fields(sample) -> None:
    path, summary, rows = sample
    assert len(rows) == summary.rows == ROWS
    assert {len(r) for r in rows} == {37}
    free_text = [r[C["renseignements_cliniques"]] + r[C["commentaire_resultat"]] for r in rows]
    # Quoted newlines, separators and double quotes inside free text all survive.
    assert any("\n" in t for t in free_text)
    assert any(";" in t for t in free_text)
    assert any('"' in t for t in free_text)
    assert path.read_bytes().count(b"\n") > ROWS + 1  # newlines inside quoted fields


def test_pyarrow_reads_it_with_newlines_in_values(sample) -> None:
    path, _, _ = sample
    table = pa_csv.read_csv(
        path,
        parse_options=pa_csv.ParseOptions(delimiter=";", newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(column_types=dict.fromkeys(COLUMNS, pa.string())),
    )
    assert table.num_rows == ROWS
    assert table.column_names == list(COLUMNS)


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    a, b, c = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "c.csv"
    assert write_sample(a, 3000, seed=11) == write_sample(b, 3000, seed=11)
    write_sample(c, 3000, seed=12)
    assert a.read_bytes() == b.read_bytes()
    assert a.read_bytes() != c.read_bytes()


def test_same_bytes_in_another_process(tmp_path: Path) -> None:
    """No dependence on string hashing (set or dict order) or on the current date."""
    local = tmp_path / "local.csv"
    write_sample(local, 2000, seed=5)
    digests = []
    for hash_seed in ("1", "2"):
        out = tmp_path / f"other-{hash_seed}.csv"
        code = f"from pipeline.sample import write_sample; write_sample({str(out)!r}, 2000, seed=5)"
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        subprocess.run([sys.executable, "-c", code], check=True, env=env)
        digests.append(hashlib.sha256(out.read_bytes()).hexdigest())
    assert digests == [hashlib.sha256(local.read_bytes()).hexdigest()] * 2


def test_denormalised_requests_and_patients(sample) -> None:
    _, summary, rows = sample
    by_request: dict[str, set[tuple[str, ...]]] = defaultdict(set)
    requests_of: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        # Patient, request and prescriber fields repeat on every result row of a request
        # (date_validation may differ: some analyses are validated later), except where
        # a row was given an impossible date.
        if _parse_date(r[C["date_naissance"]]) and _parse_datetime(r[C["date_prelevement"]]):
            by_request[r[C["numero_dossier"]]].add(tuple(r[:23] + r[24:25]))
        requests_of[r[C["ipp_patient"]]].add(r[C["numero_dossier"]])
    assert len(by_request) > summary.requests - summary.invalid_dates
    assert len(requests_of) == summary.patients
    assert all(len(v) == 1 for v in by_request.values())
    per_request = Counter(r[C["numero_dossier"]] for r in rows)
    assert ROWS / summary.requests > 3
    assert max(per_request.values()) >= 10
    assert ROWS / summary.patients > 10
    assert sum(len(v) >= 3 for v in requests_of.values()) > summary.patients / 4


def test_nir_keys_and_invalid_share(sample) -> None:
    _, summary, rows = sample
    nirs = [r[C["nir"]] or None for r in rows]
    bodies, invalid = normalise_nir_array(pa.array(nirs, pa.string()))
    flagged = invalid.to_pylist()
    assert sum(flagged) == summary.invalid_nir
    assert 0.001 < summary.invalid_nir / ROWS <= INVALID_NIR_SHARE
    assert 0 < nirs.count(None) < ROWS * 0.05
    for nir, bad in zip(nirs, flagged, strict=True):
        if bad:  # a wrong key, never a malformed layout
            cleaned = clean_nir(nir)
            assert len(cleaned) == 15
            assert int(cleaned[13:]) != nir_key(cleaned[:13])
    # Valid ones embed sex, birth year, month and birthplace.
    for r, body in zip(rows, bodies.to_pylist(), strict=True):
        birth = _parse_date(r[C["date_naissance"]])
        if body is None or birth is None:
            continue
        assert body[0] == {"M": "1", "F": "2"}.get(r[C["sexe"]], body[0])
        assert body[1:3] == f"{birth.year % 100:02d}"
        assert body[3:5] == f"{birth.month:02d}" or int(body[3:5]) >= 20
        assert body[5:10] == r[C["commune_naissance_insee"]]


def test_nir_spellings_vary(sample) -> None:
    _, _, rows = sample
    nirs = [r[C["nir"]] for r in rows if r[C["nir"]]]
    assert any(len(n) == 21 and n.count(" ") == 6 for n in nirs)  # 2 84 05 56 260 123 09
    assert any(len(n) == 15 and n.isalnum() for n in nirs)
    assert any(len(n) == 13 for n in nirs)  # without the key
    assert any("." in n for n in nirs)
    assert any("2a" in n or "2b" in n for n in nirs)
    assert any(" 2A " in n or "2B" in n for n in nirs)


def test_birthplaces_and_residences_include_corsica_overseas_and_abroad(sample) -> None:
    _, _, rows = sample
    births = {r[C["commune_naissance_insee"]][:2] for r in rows}
    assert {"2A", "2B", "97", "99"} <= births
    homes = {r[C["commune_residence_insee"]] for r in rows}
    assert {"2A004", "2B033", "97209", "97411"} <= homes
    assert any(h.startswith("751") for h in homes)  # Paris by arrondissement
    assert "75056" in homes  # and as a whole
    for r in rows:
        for name in ("commune_naissance_insee", "commune_residence_insee"):
            assert len(r[C[name]]) == 5
        assert len(r[C["code_postal"]]) == 5 and r[C["code_postal"]].isdigit()
        assert len(r[C["laboratoire_finess"]]) == 9
        rpps = r[C["medecin_prescripteur_rpps"]]
        assert rpps == "" or (len(rpps) == 11 and rpps.isdigit())
    assert 20 <= len({r[C["laboratoire_finess"]] for r in rows}) <= 30


def test_invalid_dates_match_the_summary_and_the_rest_is_consistent(sample) -> None:
    _, summary, rows = sample
    broken = 0
    ages = []
    for r in rows:
        birth = _parse_date(r[C["date_naissance"]])
        sampled = _parse_datetime(r[C["date_prelevement"]])
        validated = _parse_datetime(r[C["date_validation"]])
        assert validated is not None  # only dates the reference policy reads are broken
        if birth is None or sampled is None:
            broken += 1
            continue
        assert birth <= sampled.date()
        assert sampled < validated
        assert 2021 <= sampled.year <= 2026
        ages.append((sampled.date() - birth).days // 365.25)
    assert broken == summary.invalid_dates
    assert 0 < broken < ROWS * 0.002
    assert min(ages) <= 2 and max(ages) >= 90
    assert any(r[C["date_naissance"]].startswith("29/02/") for r in rows)


def test_results_look_like_a_lab_export(sample) -> None:
    _, _, rows = sample
    values = [r[C["resultat_valeur"]] for r in rows]
    assert any("," in v and v.replace(",", "").isdigit() for v in values)  # 5,4
    assert any(v.startswith("<") for v in values)  # <0,5
    assert "POSITIF" in values and "NEGATIF" in values
    assert {r[C["indicateur_anormal"]] for r in rows} <= {"N", "H", "L", "A", ""}
    assert {"N", "H", "L"} <= {r[C["indicateur_anormal"]] for r in rows}
    loinc = {r[C["code_loinc"]] for r in rows}
    assert {"718-7", "14749-6", "2951-2"} <= loinc
    assert {"A+", "O-"} <= {r[C["groupe_sanguin"]] for r in rows}
    text = " ".join(r[C["renseignements_cliniques"]] + r[C["commentaire_resultat"]] for r in rows)
    for word in ("VIH", "Grossesse", "chimiothérapie", "Dr "):
        assert word in text
    names = " ".join(r[C["nom_naissance"]] + " " + r[C["prenoms"]] for r in rows)
    assert any(ch in names for ch in "ÉéèëïÈ")
    assert any(r[C["mot_de_passe_portail"]] for r in rows)
    # Optional columns are sometimes empty, the others never.
    optional = {
        "nir", "nom_usage", "adresse", "telephone", "email", "code_caisse_amo", "mutuelle_nom",
        "mutuelle_numero_adherent", "medecin_prescripteur_nom", "medecin_prescripteur_rpps",
        "medecin_prescripteur_cp", "preleveur", "resultat_unite", "valeurs_reference",
        "indicateur_anormal", "groupe_sanguin", "renseignements_cliniques",
        "commentaire_resultat", "identifiant_portail", "mot_de_passe_portail",
    }  # fmt: skip
    empty = {name for name, i in C.items() if any(not r[i] for r in rows)}
    assert empty <= optional
    assert len(empty) >= len(optional) - 2  # a few are rarely empty (adresse, caisse)


def test_cp1252_and_narrower_encodings(tmp_path: Path) -> None:
    utf8 = tmp_path / "utf8.csv"
    write_sample(utf8, 3000, seed=2)
    for encoding in ("cp1252", "latin-1", "ascii"):
        path = tmp_path / f"{encoding}.csv"
        summary = write_sample(path, 3000, seed=2, encoding=encoding)
        header, rows = _read(path, encoding)
        assert header == list(COLUMNS)
        assert len(rows) == summary.rows == 3000
        assert {len(r) for r in rows} == {37}
    # cp1252 holds every character the sample uses except "≥": the rest reads back the same.
    _, cp1252 = _read(tmp_path / "cp1252.csv", "cp1252")
    _, original = _read(utf8)
    assert [[v.replace("≥", ">=") for v in r] for r in original] == cp1252
    assert "É" in (tmp_path / "cp1252.csv").read_bytes().decode("cp1252")


def test_arguments_are_checked(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_sample(tmp_path / "x.csv", -1)
    with pytest.raises(ValueError):
        write_sample(tmp_path / "x.csv", True)  # type: ignore[arg-type]
    with pytest.raises(LookupError):
        write_sample(tmp_path / "x.csv", 10, encoding="no-such-codec")
    assert not (tmp_path / "x.csv").exists()
