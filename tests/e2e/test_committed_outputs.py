"""Only files a pass committed are published: orphans of failed bundle attempts are
deleted, a committed file that went missing refuses, empty outputs still get a file.

Runs go through `pipeline.run.execute` in process (the CLI's own entry, minus argparse)
so that the launcher can be interrupted between the pipeline and publication.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import pipeline.run as run_module
from pipeline.outcome import OutputsMismatch
from pipeline.privacy_pass import STAGE_DIR
from pipeline.run import RunRequest, execute
from tests.e2e.conftest import CANARY_ROW, run_export, write_export
from tests.e2e.test_cli_run import policy_without_privacy_gate
from transforms.rejected import REJECTED_SCHEMA


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("committed")


@pytest.fixture(scope="module")
def keys(module_keyring) -> Path:
    return module_keyring


@pytest.fixture(scope="module")
def export(workdir) -> Path:
    return write_export(workdir / "export.csv", 4000, [], seed=2024)


@pytest.fixture(scope="module")
def no_gate(workdir) -> Path:
    return policy_without_privacy_gate(workdir)


def request(export: Path, output: Path, keys: Path, policy, ratio: float = 0.05) -> RunRequest:
    return RunRequest(
        policy=str(policy),
        inputs=[str(export)],
        output=str(output),
        keyring=str(keys),
        max_rejected_ratio=ratio,
    )


def rows(output: Path, directory: str) -> list[str]:
    table = pq.read_table(output / directory)
    return sorted(json.dumps(row, default=str, sort_keys=True) for row in table.to_pylist())


def staging_of(output: Path) -> Path:
    [staging] = output.parent.glob(f".{output.name}.pseudolab-staging-*")
    return staging


@pytest.fixture(scope="module")
def clean_runs(workdir, keys, export, no_gate) -> dict[str, Path]:
    outputs = {}
    for name, policy in (("gate-off", no_gate), ("gate-on", "lab-export-v1")):
        outputs[name] = workdir / f"clean-{name}"
        execute(request(export, outputs[name], keys, policy))
    return outputs


def interrupted(monkeypatch, name: str, before):
    """Call `before(staging path)` just ahead of the launcher's `name` in pipeline.run."""
    real = getattr(run_module, name)

    def wrapper(staging, *args, **kwargs):
        before(Path(staging))
        return real(staging, *args, **kwargs)

    monkeypatch.setattr(run_module, name, wrapper)


@pytest.mark.parametrize("which", ["gate-off", "gate-on"])
def test_a_second_run_publishes_the_same_rows_and_tokens(
    which, tmp_path, keys, export, no_gate, clean_runs
):
    output = tmp_path / "out"
    report = execute(
        request(export, output, keys, no_gate if which == "gate-off" else "lab-export-v1")
    )
    assert report["rows_in"] == 4000 == report["rows_out"] + report["rows_rejected"]
    assert rows(output, "data") == rows(clean_runs[which], "data")
    assert rows(output, "rejected") == rows(clean_runs[which], "rejected")
    assert sorted(os.listdir(output)) == [
        "_SUCCESS",
        "data",
        "rejected",
        "report.html",
        "report.json",
    ]
    files = report["files"]["data"] + report["files"]["rejected"]
    assert sorted(files) == sorted(
        f"{directory}/{name}"
        for directory in ("data", "rejected")
        for name in os.listdir(output / directory)
    )


def orphan_copies(staging: Path, directory: str) -> None:
    """What a bundle attempt that renamed its file and then failed leaves behind."""
    for path in sorted((staging / directory).glob("*.parquet")):
        shutil.copy(path, path.with_name(f"orphan-{path.name}"))
        shutil.copy(path, path.with_name(f".{path.name}.tmp"))


@pytest.mark.parametrize("directory", ["data", "rejected"])
def test_files_no_pass_committed_are_not_published(
    directory, monkeypatch, tmp_path, keys, export, no_gate, clean_runs
):
    interrupted(monkeypatch, "read_outcome", lambda staging: orphan_copies(staging, directory))
    output = tmp_path / "out"
    report = execute(request(export, output, keys, no_gate))
    assert [name for name in os.listdir(output / directory) if "orphan" in name] == []
    assert [name for name in os.listdir(output / directory) if name.startswith(".")] == []
    assert report["rows_in"] == report["rows_out"] + report["rows_rejected"]
    assert rows(output, "data") == rows(clean_runs["gate-off"], "data")
    assert rows(output, "rejected") == rows(clean_runs["gate-off"], "rejected")


def test_the_second_pass_reads_only_committed_staged_files(
    monkeypatch, tmp_path, keys, export, clean_runs
):
    # An orphan in the stage would duplicate rows if the second pass read a glob.
    interrupted(monkeypatch, "staged_files", lambda staging: orphan_copies(staging, STAGE_DIR))
    interrupted(monkeypatch, "read_outcome", lambda staging: orphan_copies(staging, "rejected"))
    output = tmp_path / "out"
    report = execute(request(export, output, keys, "lab-export-v1"))
    assert report["rows_in"] == 4000 == report["rows_out"] + report["rows_rejected"]
    assert rows(output, "data") == rows(clean_runs["gate-on"], "data")
    assert rows(output, "rejected") == rows(clean_runs["gate-on"], "rejected")


@pytest.mark.parametrize(
    ("name", "directory"),
    [("read_outcome", "data"), ("read_outcome", "rejected"), ("staged_files", STAGE_DIR)],
)
def test_a_committed_file_that_is_missing_publishes_nothing(
    name, directory, monkeypatch, tmp_path, keys, export
):
    def remove_one(staging: Path) -> None:
        os.remove(sorted((staging / directory).glob("*.parquet"))[0])

    interrupted(monkeypatch, name, remove_one)
    output = tmp_path / "out"
    with pytest.raises(OutputsMismatch, match="was committed but is missing; nothing published"):
        execute(request(export, output, keys, "lab-export-v1"))
    assert not output.exists()
    assert list(tmp_path.glob(".out.pseudolab-staging-*")) == []


def valid_rows(count: int) -> list[dict]:
    return [dict(CANARY_ROW, numero_dossier=f"DVALID-{n:04d}") for n in range(count)]


def empty_output_file(output: Path, directory: str) -> pa.Schema:
    [name] = os.listdir(output / directory)
    parquet = pq.ParquetFile(output / directory / name)
    assert parquet.metadata.num_rows == 0
    report = json.loads((output / "report.json").read_text())
    assert report["files"][directory] == [f"{directory}/{name}"]
    schema = parquet.schema_arrow
    assert schema.metadata[b"pseudolab.run_id"].decode() == report["run_id"]
    return schema


def test_rejected_is_an_empty_parquet_when_nothing_is_rejected(tmp_path, keys, no_gate):
    export = write_export(tmp_path / "valid.csv", 0, valid_rows(20))
    output = tmp_path / "out"
    result = run_export(export, output, keys, policy=no_gate)
    assert result.code == 0, result.stderr
    report = json.loads((output / "report.json").read_text())
    assert (report["rows_in"], report["rows_out"], report["rows_rejected"]) == (20, 20, 0)
    schema = empty_output_file(output, "rejected")
    assert schema.equals(REJECTED_SCHEMA, check_metadata=False)
    assert pq.read_table(output / "data").num_rows == 20


@pytest.mark.parametrize("gate", ["off", "on"])
def test_data_is_an_empty_parquet_when_every_row_is_rejected(gate, tmp_path, keys, no_gate):
    invalid = [dict(row, date_naissance="31/02/1984") for row in valid_rows(5)]
    export = write_export(tmp_path / "invalid.csv", 0, invalid)
    output = tmp_path / "out"
    policy = str(no_gate) if gate == "off" else "lab-export-v1"
    result = run_export(export, output, keys, "--max-rejected-ratio", "1", policy=policy)
    assert result.code == 0, result.stderr
    schema = empty_output_file(output, "data")
    assert "patient_token" in schema.names
    assert pq.read_table(output / "rejected").num_rows == 5
