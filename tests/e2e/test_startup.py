"""Start-up: the command imports Beam without pandas, which it never uses."""

from __future__ import annotations

import subprocess
import sys

import pytest

from schemas.loader import shipped_policy_path
from tests.e2e.conftest import write_export
from tests.e2e.test_cli_run import policy_without_privacy_gate

CHECK = """
import sys
from pipeline.cli import _import_beam_quietly
_import_beam_quietly()
import pyarrow as pa
pa.array(["x"])  # pyarrow's first look for pandas happened during the import
assert "apache_beam" in sys.modules
assert "pandas" not in sys.modules, "pandas was imported"
assert not any(type(f).__name__ == "_NoPandas" for f in sys.meta_path)
import pandas  # still importable by whoever needs it
print("ok", pa.Table.from_pydict({"a": [1]}).to_pandas().shape)
"""


def test_beam_is_imported_without_pandas_which_stays_importable() -> None:
    pytest.importorskip("pandas")
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok (1, 1)"


LIGHT_COMMANDS = """
import json, sys
from pipeline.cli import main

directory, policy = sys.argv[1], sys.argv[2]
keyring, export = f"{directory}/keyring.json", f"{directory}/export.csv"
tokens = f"{directory}/tokens.txt"
with open(tokens, "w") as handle:
    handle.write("abc\\n")
with open(f"{directory}/report.json", "w") as handle:
    json.dump({
        "run_id": "r1", "pseudolab_version": "0", "policy": {"name": "p", "version": "1"},
        "key_id": "k1", "rows_in": 2, "rows_out": 1, "rows_rejected": 1,
        "rejected_ratio": 0.5, "rejected_by_reason": {"invalid-date": 1}, "flags": {},
        "columns": {"a": "keep", "b": "drop"}, "timings": {"total_s": 1.0},
    }, handle)


def call(expected, *argv):
    try:
        code = main(list(argv))
    except SystemExit as done:  # --version, --help
        code = done.code
    assert code == expected, (argv, code)
    for module in ("apache_beam", "pandas"):
        assert module not in sys.modules, f"`pseudolab {argv[0]}` imported {module}"


call(0, "--version")
call(0, "--help")
call(0, "keygen", "--output", keyring)
call(0, "sample", "--rows", "60", "--seed", "3", "--output", export)
call(0, "check", "--policy", policy)
call(0, "check", "--policy", policy, "--input", export)
call(0, "key", "list", "--keyring", keyring)
call(0, "key", "add", "--keyring", keyring)
call(0, "rotate", "--policy", policy, "--keyring", keyring, "--input", export,
     "--output", f"{directory}/crosswalk.parquet")
call(2, "reidentify", "--policy", policy, "--keyring", keyring, "--column", "patient_token",
     "--input", tokens, "--audit-log", f"{directory}/audit.jsonl")
call(0, "report", directory)
call(2, "report", f"{directory}/missing")
print("light ok")

code = main(["run", "--policy", policy, "--keyring", keyring, "--input", export,
             "--output", f"{directory}/output", "--max-rejected-ratio", "1"])
assert code == 0, code
assert "apache_beam" in sys.modules
assert "pandas" not in sys.modules, "pandas was imported"
print("run ok")
"""


def test_only_run_and_demo_import_beam(tmp_path) -> None:
    """Commands that run no pipeline start without Beam (nor pandas); `run` still imports
    Beam, with pandas hidden, through the same `main`."""
    pytest.importorskip("pandas")

    text = shipped_policy_path("lab-export-v1").read_text(encoding="utf-8")
    policy = tmp_path / "no-gate.yaml"  # the shipped policy without its privacy gate
    policy.write_text(text.split("\nprivacy:")[0] + "\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-c", LIGHT_COMMANDS, str(tmp_path), str(policy)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    lines = result.stdout.splitlines()
    assert "light ok" in lines and lines[-1] == "run ok"


FAST_EXIT = """
import atexit, sys
from pipeline import cli
atexit.register(lambda: print("clean-ups ran", flush=True))
sys.argv = ["pseudolab", *sys.argv[1:]]
cli.console_main()
"""


def _command(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-c", FAST_EXIT, *args], capture_output=True, text=True, timeout=300
    )


def test_a_successful_in_memory_run_ends_at_once_with_its_output_flushed(tmp_path, keyring) -> None:
    export = write_export(tmp_path / "export.csv", 300, [])
    args = ["--policy", str(policy_without_privacy_gate(tmp_path)), "--keyring", str(keyring)]
    args += ["--input", str(export), "--max-rejected-ratio", "1"]

    done = _command("run", *args, "--output", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr[-2000:]
    assert "clean-ups ran" not in done.stdout
    assert "report for people" in done.stdout, "the summary is flushed before the quick exit"
    assert (tmp_path / "out" / "_SUCCESS").exists()

    refused = _command("run", *args, "--output", str(tmp_path / "no"), "--", "--no_such_option")
    assert refused.returncode == 2  # a failure exits normally: clean-ups run
    assert "clean-ups ran" in refused.stdout


def test_other_runs_and_commands_exit_normally(tmp_path, keyring) -> None:
    export = write_export(tmp_path / "export.csv", 300, [])
    threads = _command(
        "run", "--policy", str(policy_without_privacy_gate(tmp_path)), "--keyring", str(keyring),
        "--input", str(export), "--output", str(tmp_path / "out"), "--max-rejected-ratio", "1",
        "--", "--direct_running_mode=multi_threading",
    )  # fmt: skip
    assert threads.returncode == 0, threads.stderr[-2000:]
    assert "clean-ups ran" in threads.stdout

    made = _command("keygen", "--output", str(tmp_path / "k.json"))
    assert made.returncode == 0 and "clean-ups ran" in made.stdout
