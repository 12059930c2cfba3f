"""Shared fixtures: the CLI in a subprocess, a synthetic export with planted canaries."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from pipeline.sample import COLUMNS, write_sample
from transforms.nir import nir_key

CANARY_NIR_BODY = "1991299123456"
CANARY_NIR = f"{CANARY_NIR_BODY}{nir_key(CANARY_NIR_BODY):02d}"
CANARY_NIR_SPACED = (
    f"{CANARY_NIR[0]} {CANARY_NIR[1:3]} {CANARY_NIR[3:5]} {CANARY_NIR[5:7]} "
    f"{CANARY_NIR[7:10]} {CANARY_NIR[10:13]} {CANARY_NIR[13:]}"
)

CANARY_ROW = {
    "numero_dossier": "DCANARY-0001",
    "ipp_patient": "PCANARY001",
    "nir": CANARY_NIR_SPACED,
    "nom_naissance": "ZORGLUBCANARY",
    "nom_usage": "ZORGLUBUSAGE",
    "prenoms": "Canaryfirstname",
    "sexe": "F",
    "date_naissance": "17/05/1984",
    "commune_naissance_insee": "56260",
    "adresse": "77 rue du Canari",
    "code_postal": "56000",
    "commune_residence_insee": "2A004",
    "ville": "Canaryville",
    "telephone": "06 99 88 77 66",
    "email": "canary.leak@example.org",
    "code_caisse_amo": "01 561",
    "mutuelle_nom": "MUTCANARY",
    "mutuelle_numero_adherent": "987654321123",
    "medecin_prescripteur_nom": "Dr Canary DOCTEUR",
    "medecin_prescripteur_rpps": "19999999999",
    "medecin_prescripteur_cp": "56000",
    "preleveur": "IDE CANARYNURSE",
    "date_prelevement": "01/03/2021 08:12",
    "date_validation": "01/03/2021 10:01",
    "laboratoire_finess": "560012345",
    "code_analyse_local": "GLY",
    "code_loinc": "14749-6",
    "libelle_analyse": "Glycémie à jeun",
    "resultat_valeur": "5,4",
    "resultat_unite": "mmol/L",
    "valeurs_reference": "3,9 - 5,8",
    "indicateur_anormal": "N",
    "groupe_sanguin": "AB-",
    "renseignements_cliniques": "CANARYCLINIC grossesse 12 SA ; traitement PREVISCAN",
    "commentaire_resultat": 'CANARYCOMMENT patient VIH+ ; "suivi"\nDr Canary',
    "identifiant_portail": "canaryportal",
    "mot_de_passe_portail": "Pa55-CANARY-word!",
}

# Every spelling of every planted identifier: none may appear in any output.
CANARIES = [
    "DCANARY-0001",
    "PCANARY001",
    CANARY_NIR,
    CANARY_NIR_BODY,
    CANARY_NIR_SPACED,
    "ZORGLUBCANARY",
    "ZORGLUBUSAGE",
    "Canaryfirstname",
    "rue du Canari",
    "Canaryville",
    "06 99 88 77 66",
    "0699887766",
    "canary.leak@example.org",
    "MUTCANARY",
    "987654321123",
    "Dr Canary",
    "19999999999",
    "CANARYNURSE",
    "CANARYCLINIC",
    "CANARYCOMMENT",
    "canaryportal",
    "Pa55-CANARY-word!",
]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def console(self) -> str:
        return self.stdout + self.stderr


def pseudolab_command() -> list[str]:
    """The installed console script when present, else the module: same `main`."""
    script = Path(sys.executable).with_name("pseudolab")
    return [str(script)] if script.exists() else [sys.executable, "-m", "pipeline.cli"]


def pseudolab(*args: str, cwd: Path | None = None, env: dict | None = None) -> Result:
    command = pseudolab_command()
    env = {k: v for k, v in {**os.environ, **(env or {})}.items() if k != "PSEUDOLAB_DEBUG"}
    done = subprocess.run(
        [*command, *args], capture_output=True, text=True, cwd=cwd, env=env, timeout=300
    )
    return Result(done.returncode, done.stdout, done.stderr)


def run_export(
    export: Path | str,
    output: Path,
    keyring: Path | str,
    *extra: str,
    policy: Path | str = "lab-export-v1",
    env: dict | None = None,
) -> Result:
    """`pseudolab run` of one input into `output`; Beam options may follow `--` in extra."""
    return pseudolab(
        "run", "--policy", str(policy), "--input", str(export), "--output", str(output),
        "--keyring", str(keyring), *extra, env=env,
    )  # fmt: skip


@pytest.fixture(scope="module")
def module_keyring(tmp_path_factory) -> Path:
    """One keyring for a whole test module (mode 0600)."""
    path = tmp_path_factory.mktemp("module-keys") / "keyring.json"
    assert pseudolab("keygen", "--output", str(path)).code == 0
    return path


def write_export(path: Path, rows: int, extra_rows: list[dict], seed: int = 7) -> Path:
    """A synthetic export with `extra_rows` appended in the same CSV dialect."""
    write_sample(path, rows=rows, seed=seed)
    with open(path, "a", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(
            handle, fieldnames=list(COLUMNS), delimiter=";", lineterminator="\n"
        )
        for row in extra_rows:
            writer.writerow(row)
    return path


@pytest.fixture
def keyring(tmp_path: Path) -> Path:
    path = tmp_path / "keys" / "keyring.json"
    assert pseudolab("keygen", "--output", str(path)).code == 0
    return path


@pytest.fixture
def canary_export(tmp_path: Path) -> Path:
    rejected_canary = dict(CANARY_ROW, date_naissance="31/02/1984")
    return write_export(tmp_path / "export.csv", 3000, [CANARY_ROW, rejected_canary])
