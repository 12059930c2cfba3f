"""Reversible tokens, audited re-identification, rotation crosswalks, recipients."""

from __future__ import annotations

import csv
import json
import subprocess
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from schemas.loader import shipped_policy_path
from tests.e2e.conftest import pseudolab, pseudolab_command, run_export, write_export


def _policy(directory: Path, name: str, recipient: str | None = None) -> Path:
    """The shipped policy without its gate; IPP encrypted, NIR format-preserving."""
    text = shipped_policy_path("lab-export-v1").read_text(encoding="utf-8")
    text = text.split("\nprivacy:")[0] + "\n"
    text = text.replace(
        "  - name: ipp_patient\n    action: tokenise\n    normaliser: exact",
        "  - name: ipp_patient\n    action: encrypt\n    normaliser: exact",
    ).replace(
        "  - name: nir\n    action: tokenise\n    normaliser: nir",
        "  - name: nir\n    action: fpe\n    format: nir",
    )
    if recipient:
        text += f"recipient: {recipient}\n"
    path = directory / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _run(export: Path, output: Path, keyring: Path, policy: Path):
    return run_export(export, output, keyring, policy=policy)


def _column(output: Path, name: str) -> list:
    return pq.read_table(output / "data", columns=[name]).column(name).to_pylist()


@pytest.fixture
def export(tmp_path) -> Path:
    return write_export(tmp_path / "export.csv", 800, [], seed=5)


def _source_ipps(export: Path) -> set[str]:
    with open(export, encoding="utf-8", newline="") as handle:
        return {row["ipp_patient"] for row in csv.DictReader(handle, delimiter=";")}


def test_encrypt_tokens_reidentify_only_through_the_audited_command(tmp_path, export, keyring):
    policy = _policy(tmp_path, "keys")
    output = tmp_path / "out"
    assert _run(export, output, keyring, policy).code == 0
    tokens = sorted(set(_column(output, "patient_token")))[:25]
    assert all(token.startswith("v1.") for token in tokens)
    nir = [v for v in _column(output, "nir_token") if v][:5]
    assert all(len(v) == 15 and v.isdigit() and v[0] in "78" for v in nir)

    audit = tmp_path / "audit.jsonl"
    done = subprocess.run(
        [*pseudolab_command(), "reidentify", "--policy", str(policy), "--keyring", str(keyring),
         "--column", "ipp_patient", "--audit-log", str(audit)],
        input="\n".join(tokens) + "\n", capture_output=True, text=True,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    values = done.stdout.splitlines()
    assert len(values) == len(tokens) and set(values) <= _source_ipps(export)
    entry = json.loads(audit.read_text().splitlines()[-1])
    assert entry["tokens"] == 25 and entry["column"] == "ipp_patient" and entry["outcome"] == "ok"
    assert not any(value in audit.read_text() for value in values)
    assert not any(token in audit.read_text() for token in tokens)

    refused = pseudolab(
        "reidentify", "--policy", str(policy), "--keyring", str(keyring), "--column",
        "medecin_prescripteur_rpps", "--input", str(tmp_path / "none"), "--audit-log", str(audit),
    )  # fmt: skip
    assert refused.code != 0


def test_hmac_columns_are_irreversible(tmp_path, keyring):
    tokens = tmp_path / "tokens.txt"
    tokens.write_text("abc\n")
    result = pseudolab(
        "reidentify", "--policy", "lab-export-v1", "--keyring", str(keyring),
        "--column", "patient_token", "--input", str(tokens),
        "--audit-log", str(tmp_path / "audit.jsonl"),
    )  # fmt: skip
    assert result.code == 2 and "irreversible" in result.stderr
    entry = json.loads((tmp_path / "audit.jsonl").read_text())
    assert entry["outcome"].startswith("refused")


def test_rotation_crosswalk_maps_every_old_token_to_the_new_one(tmp_path, export, keyring):
    policy = _policy(tmp_path, "keys")
    before, after = tmp_path / "before", tmp_path / "after"
    assert _run(export, before, keyring, policy).code == 0
    assert pseudolab("key", "add", "--keyring", str(keyring)).code == 0
    crosswalk = tmp_path / "crosswalk.parquet"
    made = pseudolab(
        "rotate", "--policy", str(policy), "--keyring", str(keyring), "--input", str(export),
        "--output", str(crosswalk),
    )  # fmt: skip
    assert made.code == 0, made.stderr
    assert _run(export, after, keyring, policy).code == 0
    table = pq.read_table(crosswalk)
    for column in ("dossier_token", "patient_token", "nir_token", "prescripteur_token"):
        mine = table.filter(pa.compute.equal(table["column"], column))
        mapping = dict(
            zip(mine["old_token"].to_pylist(), mine["new_token"].to_pylist(), strict=True)
        )
        old, new = _column(before, column), _column(after, column)
        assert len(mapping) == len({v for v in old if v is not None})
        assert [mapping.get(v) for v in old] == new

    old_token = _column(before, "patient_token")[0]
    key_id = old_token.split(".")[1]
    tokens = tmp_path / "old.txt"
    tokens.write_text(old_token + "\n")
    retired = pseudolab(
        "reidentify", "--policy", str(policy), "--keyring", str(keyring), "--column",
        "ipp_patient", "--input", str(tokens), "--audit-log", str(tmp_path / "a.jsonl"),
    )  # fmt: skip
    assert retired.code == 0 and retired.stdout.strip() in _source_ipps(export)
    assert pseudolab("key", "destroy", "--keyring", str(keyring), "--id", key_id).code == 0
    result = pseudolab(
        "reidentify", "--policy", str(policy), "--keyring", str(keyring), "--column",
        "ipp_patient", "--input", str(tokens), "--audit-log", str(tmp_path / "a.jsonl"),
    )  # fmt: skip
    assert result.code == 2 and "destroyed" in result.stderr


def test_recipients_cannot_join_without_the_lab(tmp_path, export, keyring):
    outputs = {}
    for recipient in ("inserm-u123", "chu-rennes"):
        outputs[recipient] = tmp_path / recipient
        policy = _policy(tmp_path, recipient, recipient)
        assert _run(export, outputs[recipient], keyring, policy).code == 0
    first = set(_column(outputs["inserm-u123"], "prescripteur_token")) - {None}
    second = set(_column(outputs["chu-rennes"], "prescripteur_token")) - {None}
    assert first and second and not (first & second)
