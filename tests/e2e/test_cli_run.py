"""The CLI end to end, in a subprocess, on exports built here with planted canaries."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest

from schemas.loader import shipped_policy_path
from tests.e2e.conftest import (
    CANARIES,
    CANARY_NIR_BODY,
    CANARY_ROW,
    pseudolab,
    write_export,
)
from tests.e2e.conftest import run_export as run


def independent_token(keyring: Path, domain: str, value: str) -> str:
    """The README's token formula with the standard library only."""
    document = json.loads(keyring.read_text())
    entry = next(k for k in document["keys"] if k["id"] == document["primary"])
    secret = base64.b64decode(entry["secret"])
    prk = hmac.new(b"\0" * 32, secret, hashlib.sha256).digest()
    info = f"pseudolab/v1/token/{domain}".encode()
    domain_key = hmac.new(prk, info + b"\x01", hashlib.sha256).digest()
    digest = hmac.new(domain_key, value.encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:15]).decode().lower()


def policy_without_privacy_gate(directory: Path) -> Path:
    """The shipped policy minus its privacy section: rows keep their own generalisation."""
    text = shipped_policy_path("lab-export-v1").read_text(encoding="utf-8")
    path = directory / "no-gate.yaml"
    path.write_text(text.split("\nprivacy:")[0] + "\n", encoding="utf-8")
    return path


def everything_written(directory: Path) -> str:
    """Raw bytes of every file, plus the decoded cells of every Parquet file."""
    parts = []
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        parts.append(path.read_bytes().decode("utf-8", "replace"))
        if path.suffix == ".parquet":
            table = pq.read_table(path)
            parts.append(json.dumps(table.to_pylist(), default=str, ensure_ascii=False))
            parts.append(str(table.schema))
    return "\n".join(parts)


def sorted_data(output: Path) -> pa.Table:
    table = pq.read_table(output / "data").replace_schema_metadata(None)
    keys = [(name, "ascending") for name in table.column_names if name != "nir_invalide"]
    return table.sort_by(keys)


def test_shipped_policy_leaks_no_canary(tmp_path, canary_export, keyring):
    output = tmp_path / "out"
    result = run(canary_export, output, keyring)
    assert result.code == 0, result.stderr
    report = json.loads((output / "report.json").read_text())
    assert report["rows_in"] == 3002 == report["rows_out"] + report["rows_rejected"]
    assert report["privacy"]["k_achieved"] >= 5
    written = everything_written(output) + result.console
    assert [canary for canary in CANARIES if canary.lower() in written.lower()] == []


def test_run_publishes_minimised_data_and_leaks_no_canary(tmp_path, canary_export, keyring):
    output = tmp_path / "out"
    policy = str(policy_without_privacy_gate(tmp_path))
    result = run(canary_export, output, keyring, policy=policy)
    assert result.code == 0, result.stderr

    report = json.loads((output / "report.json").read_text())
    assert report["rows_in"] == 3002
    assert report["rows_in"] == report["rows_out"] + report["rows_rejected"]
    assert report["rejected_by_reason"].get("invalid-date", 0) >= 1
    assert (output / "_SUCCESS").exists()
    assert list((output / "rejected").glob("*.parquet"))

    written = everything_written(output) + result.console
    leaked = [canary for canary in CANARIES if canary.lower() in written.lower()]
    assert leaked == []

    data = pq.read_table(output / "data")
    patient = independent_token(keyring, "patient", CANARY_ROW["ipp_patient"])
    rows = data.filter(pa.compute.equal(data["patient_token"], patient)).to_pylist()
    assert len(rows) == 1  # the other canary row was rejected
    row = rows[0]
    assert row["nir_token"] == independent_token(keyring, "patient", CANARY_NIR_BODY)
    assert row["dossier_token"] == independent_token(keyring, "dossier", "DCANARY-0001")
    assert row["prescripteur_token"] == independent_token(keyring, "prescripteur", "19999999999")
    assert (row["classe_age"], row["departement_residence"], row["mois_prelevement"]) == (
        "35-39",
        "2A",
        "2021-03",
    )
    metadata = {k.decode(): v.decode() for k, v in data.schema.metadata.items()}
    assert metadata["pseudolab.key_id"] == report["key_id"]
    assert metadata["pseudolab.run_id"] == report["run_id"]
    assert metadata["pseudolab.policy.sha256"] == report["policy"]["sha256"]

    rejected = pq.read_table(output / "rejected").to_pylist()
    assert {"source_file", "source_row", "column", "reason"} == set(rejected[0])
    assert any(r["source_row"] == 3002 and r["reason"] == "invalid-date" for r in rejected)


def test_undeclared_column_refuses_with_exit_3_and_publishes_nothing(tmp_path, keyring):
    export = tmp_path / "extra.csv"
    write_export(export, 200, [])
    lines = export.read_text(encoding="utf-8").split("\n")
    lines[0] += ";colonne_en_trop"
    export.write_text(
        "\n".join(line + ";x" if i and line else line for i, line in enumerate(lines))
    )
    output = tmp_path / "out"
    result = run(export, output, keyring)
    assert result.code == 3
    assert "unknown-column" in result.stderr and "colonne_en_trop" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not output.exists()
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


def test_world_readable_keyring_refuses_with_exit_2(tmp_path, canary_export, keyring):
    os.chmod(keyring, 0o644)
    result = run(canary_export, tmp_path / "out", keyring)
    assert result.code == 2
    assert "keyring-permissions" in result.stderr
    assert not (tmp_path / "out").exists()


def test_rejected_ratio_above_threshold_refuses_with_exit_4(tmp_path, canary_export, keyring):
    result = run(canary_export, tmp_path / "out", keyring, "--max-rejected-ratio", "0")
    assert result.code == 4
    assert not (tmp_path / "out").exists()


def test_existing_output_is_never_overwritten(tmp_path, canary_export, keyring):
    output = tmp_path / "out"
    output.mkdir()
    (output / "keep.txt").write_text("yesterday")
    assert run(canary_export, output, keyring).code == 2
    assert (output / "keep.txt").read_text() == "yesterday"


def test_unknown_beam_option_is_an_error(tmp_path, canary_export, keyring):
    result = run(canary_export, tmp_path / "out", keyring, "--", "--no_such_beam_option=1")
    assert result.code == 2
    assert not (tmp_path / "out").exists()


def test_same_tokens_across_runs_and_runner_modes(tmp_path, canary_export, keyring):
    first, second, multi = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    assert run(canary_export, first, keyring).code == 0
    assert run(canary_export, second, keyring).code == 0
    mode = ("--", "--direct_running_mode=multi_processing", "--direct_num_workers=2")
    assert run(canary_export, multi, keyring, *mode).code == 0
    assert sorted_data(first).equals(sorted_data(second))
    assert sorted_data(first).equals(sorted_data(multi))


def test_parquet_and_jsonl_inputs_give_the_csv_result(tmp_path, canary_export, keyring):
    table = pacsv.read_csv(
        canary_export,
        parse_options=pacsv.ParseOptions(delimiter=";", newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types={name: pa.string() for name in CANARY_ROW},
            strings_can_be_null=True,
            null_values=[""],
        ),
    )
    parquet = tmp_path / "export.parquet"
    pq.write_table(table, parquet)
    jsonl = tmp_path / "export.jsonl"
    with open(jsonl, "w", encoding="utf-8") as handle:
        for row in table.to_pylist():
            handle.write(json.dumps({k: v for k, v in row.items() if v is not None}) + "\n")
    outputs = {}
    for name, source in (("csv", canary_export), ("parquet", parquet), ("jsonl", jsonl)):
        outputs[name] = tmp_path / f"out-{name}"
        assert run(source, outputs[name], keyring).code == 0
    assert sorted_data(outputs["csv"]).equals(sorted_data(outputs["parquet"]))
    assert sorted_data(outputs["csv"]).equals(sorted_data(outputs["jsonl"]))


@pytest.mark.parametrize("args", [["--policy", "lab-export-v1"]])
def test_check_accepts_the_shipped_policy(args):
    result = pseudolab("check", *args)
    assert result.code == 0
    assert "lab-export-v1" in result.stdout


def test_check_reports_policy_problems_with_lines(tmp_path):
    policy = tmp_path / "bad.yaml"
    policy.write_text(
        "pseudolab_policy: 1\nname: bad\nversion: '1'\ncolumns:\n"
        "  - {name: a, action: keeep}\n  - {name: b, action: drop, domain: x}\n"
        "output:\n  columns: [a]\n"
    )
    result = pseudolab("check", "--policy", str(policy))
    assert result.code == 2
    assert f"{policy}:5: unknown-action" in result.stderr
    assert f"{policy}:6: unknown-field" in result.stderr


def test_demo_runs_and_summarises(tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {"TMPDIR": str(scratch)}
    result = pseudolab("demo", "--rows", "2000", "--output", str(tmp_path / "demo"), env=env)
    assert result.code == 0, result.stderr
    assert "rows in 2,000" in result.stdout
    assert "tokenised" in result.stdout and "dropped" in result.stdout
    assert (tmp_path / "demo" / "_SUCCESS").exists()
    assert list(scratch.iterdir()) == [], "the demo leaves nothing behind in TMPDIR"


def test_keyring_from_environment_gives_the_same_tokens(tmp_path, canary_export, keyring):
    secret_document = keyring.read_text()
    secret = json.loads(secret_document)["keys"][0]["secret"]
    from_file, from_env = tmp_path / "file", tmp_path / "env"
    assert run(canary_export, from_file, keyring).code == 0
    result = run(
        canary_export,
        from_env,
        "env:PSEUDOLAB_KEYRING",
        env={"PSEUDOLAB_KEYRING": secret_document},
    )
    assert result.code == 0, result.stderr
    assert sorted_data(from_file).equals(sorted_data(from_env))
    assert secret not in everything_written(from_env) + result.console
