"""Killed runs publish nothing and leave no clear text; concurrent runs never mix."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from tests.e2e.conftest import CANARIES, CANARY_ROW, pseudolab_command, write_export


def _command(export: Path, output: Path, keyring: Path) -> list[str]:
    return [
        *pseudolab_command(),
        "run",
        "--policy",
        "lab-export-v1",
        "--input",
        str(export),
        "--output",
        str(output),
        "--keyring",
        str(keyring),
    ]


def _tree_text(directory: Path) -> str:
    parts = []
    for path in directory.rglob("*"):
        if path.is_file():
            parts.append(path.read_bytes().decode("utf-8", "replace"))
            if path.suffix == ".parquet":
                # A half-written file cannot be decoded: its raw bytes were checked.
                with contextlib.suppress(Exception):
                    parts.append(json.dumps(pq.read_table(path).to_pylist(), default=str))
    return "\n".join(parts)


def _sorted_tokens(output: Path) -> list:
    table = pq.read_table(output / "data", columns=["patient_token", "dossier_token"])
    return sorted(zip(*table.to_pydict().values(), strict=True))


@pytest.fixture(scope="module")
def big_export(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("crash")
    return write_export(directory / "export.csv", 60_000, [CANARY_ROW] * 3, seed=11)


def test_sigkill_at_any_moment_publishes_nothing_and_a_rerun_succeeds(
    tmp_path, big_export, keyring
):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    env = {**os.environ, "TMPDIR": str(scratch)}
    output = tmp_path / "out"
    started = time.perf_counter()
    reference = subprocess.run(
        _command(big_export, tmp_path / "reference", keyring), env=env, capture_output=True
    )
    duration = time.perf_counter() - started
    assert reference.returncode == 0, reference.stderr

    for fraction in (0.05, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9):
        process = subprocess.Popen(
            _command(big_export, output, keyring),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        time.sleep(duration * fraction)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        if output.exists():  # published before the kill landed: it must be complete
            assert (output / "_SUCCESS").exists(), f"killed at {fraction:.0%}: partial output"
            report = json.loads((output / "report.json").read_text())
            assert report["rows_in"] == report["rows_out"] + report["rows_rejected"]
            os.rename(output, tmp_path / f"finished-{fraction}")
            continue
        assert process.returncode != 0
        leftovers = _tree_text(tmp_path / "tmp") + "".join(
            _tree_text(p) for p in tmp_path.iterdir() if "staging" in p.name
        )
        assert [c for c in CANARIES if c in leftovers] == []

    rerun = subprocess.run(_command(big_export, output, keyring), env=env, capture_output=True)
    assert rerun.returncode == 0, rerun.stderr
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]
    assert _sorted_tokens(output) == _sorted_tokens(tmp_path / "reference")
    first = json.loads((tmp_path / "reference" / "report.json").read_text())
    again = json.loads((output / "report.json").read_text())
    for key in ("rows_in", "rows_out", "rows_rejected", "rejected_by_reason"):
        assert first[key] == again[key]


def test_two_runs_on_one_output_one_wins_the_other_refuses(tmp_path, big_export, keyring):
    output = tmp_path / "out"
    processes = [
        subprocess.Popen(
            _command(big_export, output, keyring),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    results = [(p.wait(), p.stderr.read()) for p in processes]
    codes = sorted(code for code, _ in results)
    assert codes == [0, 2], results
    refusal = next(err for code, err in results if code == 2)
    assert "another pseudolab run" in refusal or "already exists" in refusal
    report = json.loads((output / "report.json").read_text())
    assert report["rows_in"] == report["rows_out"] + report["rows_rejected"] == 60_003
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]
