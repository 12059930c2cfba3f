"""Every error path, driven with planted identifiers and key material: nothing leaks.

Canaries (conftest's CANARIES, every spelling) and the key material of the keyring in
use (its base64 secret, the raw bytes, their hex, and the derived token keys) must not
appear in any output file, rejected row, report, console line, log record, exception
message or temporary file, whatever goes wrong: a bad policy, a bad keyring, bad rows,
a crash or a kill. `PSEUDOLAB_DEBUG` is unset throughout (the subprocess helper drops
it; in-process tests delete it).

One exception by design: policy messages name the policy's own columns (design
promise 1: "what and where"), so an identifier written *as a column name* in a policy
is echoed when that column has a problem. Values of enumerated fields (action, type,
normaliser, operation, format), references and output names are quoted only when they
are a near miss of a known word; comments and free text are never quoted.
"""

from __future__ import annotations

import base64
import contextlib
import json
import logging
import os
import pickle
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from apache_beam.internal import pickler

from pipeline import cli
from pipeline.run import RunRequest, execute
from schemas.errors import PseudolabError
from schemas.loader import load_policy, load_policy_bytes, shipped_policy_path
from tests.e2e.conftest import CANARIES, CANARY_ROW, pseudolab, run_export, write_export
from tests.e2e.test_cli_run import policy_without_privacy_gate
from transforms.beam import KeyringRef, _PseudonymiseFn
from transforms.keyring import load_keyring, write_new_keyring
from transforms.policy_applier import PolicyApplier
from transforms.tokeniser import Tokeniser, derive_domain_key

DOMAINS = ("patient", "dossier", "prescripteur")


# --------------------------------------------------------------------------- helpers


class KeyMaterial:
    """Every spelling of a keyring's secrets that must never be written anywhere."""

    def __init__(self, path: Path):
        keyring = load_keyring(path)
        key = keyring.primary
        raw = [key.material] + [derive_domain_key(key, domain) for domain in DOMAINS]
        self.raw = raw
        self.texts = [json.loads(path.read_text())["keys"][0]["secret"]]
        for value in raw:
            self.texts += [
                value.hex(),
                base64.b64encode(value).decode(),
                base64.urlsafe_b64encode(value).decode(),
                base64.b32encode(value).decode().lower().rstrip("="),
            ]

    def found_in_text(self, text: str) -> list[str]:
        return [t for t in self.texts if t in text or t.lower() in text.lower()]

    def found_in_bytes(self, data: bytes) -> list[bytes]:
        return [value for value in self.raw if value in data] + [
            t.encode() for t in self.texts if t.encode() in data
        ]


def canaries_in(text: str) -> list[str]:
    return [canary for canary in CANARIES if canary.lower() in text.lower()]


def tree_text(directory: Path) -> tuple[str, bytes]:
    """All files under `directory`: decoded text (Parquet cells too), and raw bytes."""
    texts, raw = [], []
    for path in sorted(directory.rglob("*")):
        if not path.is_file():
            continue
        data = path.read_bytes()
        raw.append(data)
        texts.append(data.decode("utf-8", "replace"))
        if path.suffix == ".parquet":
            # A half-written file cannot be decoded: its raw bytes were checked above.
            with contextlib.suppress(Exception):
                table = pq.read_table(path)
                texts.append(json.dumps(table.to_pylist(), default=str, ensure_ascii=False))
    return "\n".join(texts), b"\n".join(raw)


def assert_nothing_leaks(keys: KeyMaterial, *texts: str, trees: tuple[Path, ...] = ()) -> None:
    text = "\n".join(texts)
    raw = b""
    for tree in trees:
        tree_texts, tree_raw = tree_text(tree)
        text += "\n" + tree_texts
        raw += tree_raw
    assert canaries_in(text) == []
    assert keys.found_in_text(text) == []
    assert keys.found_in_bytes(raw) == []


def run(export: Path, output: Path, keyring: str | Path, policy: str = "lab-export-v1", env=None):
    return run_export(export, output, keyring, policy=policy, env=env)


def exception_texts(error: BaseException) -> str:
    """Message, repr, arguments and the whole traceback of an exception and its chain."""
    texts = [str(error), repr(error), "".join(traceback.format_exception(error))]
    link: BaseException | None = error
    while link is not None:
        texts.append(repr(link.args))
        link = link.__cause__ or link.__context__
    return "\n".join(texts)


@pytest.fixture(autouse=True)
def no_debug(monkeypatch):
    monkeypatch.delenv(cli.DEBUG_ENV, raising=False)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("canaries")


@pytest.fixture(scope="module")
def keys(module_keyring: Path) -> KeyMaterial:
    return KeyMaterial(module_keyring)


@pytest.fixture(scope="module")
def export(workdir: Path) -> Path:
    """A small export with the canary row, published, and a rejected copy of it."""
    rejected = dict(CANARY_ROW, date_naissance="31/02/1984")
    return write_export(workdir / "export.csv", 1000, [CANARY_ROW, rejected], seed=5)


# --------------------------------------------------------------------------- bad policies

SHIPPED = shipped_policy_path("lab-export-v1").read_text(encoding="utf-8")
CANARY_COMMENT = "# " + " ".join(CANARIES) + "\n"


def _semantic_problems() -> str:
    """The shipped policy with canaries where values of the format belong."""
    text = CANARY_COMMENT + SHIPPED
    replacements = {
        "{name: nom_naissance, action: drop}": "{name: nom_naissance, action: PCANARY001}",
        "{name: nom_usage, action: drop}": "{name: nom_usage, type: ZORGLUBCANARY, action: drop}",
        "    normaliser: digits\n": "    normaliser: '19999999999'\n",
        "    operation: year_month\n": "    operation: CANARYCLINIC\n",
        "    reference: date_prelevement\n": "    reference: canaryportal\n",
        "{name: adresse, action: drop}": "{name: 'rue du Canari', action: drop}",
        "{name: email, action: drop}": "{name: canary.leak@example.org, action: drop}",
        "    - indicateur_anormal\n": "    - indicateur_anormal\n    - MUTCANARY\n",
        "    domain: dossier\n": "    domain: DCANARY-0001\n",
    }
    for old, new in replacements.items():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _billion_laughs() -> str:
    lines = ['a: &a ["PCANARY001", "ZORGLUBCANARY"]']
    for i in range(1, 10):
        previous = chr(ord("a") + i - 1)
        name = chr(ord("a") + i)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    return CANARY_COMMENT + "\n".join(lines) + "\n"


PWNED = Path("/tmp/pseudolab-canary-pwned")

_PYTHON_OBJECTS = (
    CANARY_COMMENT
    + f"name: !!python/object/apply:os.system ['echo PCANARY001 > {PWNED}']\n"
    + "version: !!python/object/new:subprocess.Popen [['touch', '/tmp/ZORGLUBCANARY']]\n"
)
_LARGE = CANARY_COMMENT * (2 * 1024 * 1024 // len(CANARY_COMMENT) + 1)
_DEEP = CANARY_COMMENT + "a: " + "[" * 200 + "PCANARY001" + "]" * 200 + "\n"

BAD_POLICIES = {
    # name: (policy text or bytes, the reason codes expected)
    "canaries-as-values": (_semantic_problems(), {"unknown-action", "unknown-type"}),
    "syntax-error-next-to-a-canary": (
        CANARY_COMMENT + "name: [ZORGLUBCANARY, 'Pa55-CANARY-word!'\ncolumns: {\n",
        {"policy-syntax"},
    ),
    "two-mebibytes-of-canaries": (_LARGE, {"policy-too-large"}),
    "alias-bomb": (_billion_laughs(), {"unsupported-yaml"}),
    "python-object": (_PYTHON_OBJECTS, {"unsupported-yaml"}),
    "not-utf8": (
        (CANARY_COMMENT + "name: ZORGLUBCANARY\xe9\n").encode("cp1252"),
        {"policy-syntax"},
    ),
    "deep-nesting": (_DEEP, {"policy-too-large"}),
}


@pytest.mark.parametrize("case", list(BAD_POLICIES))
def test_bad_policy_refuses_without_echoing_canaries(case, tmp_path, export, module_keyring, keys):
    content, codes = BAD_POLICIES[case]
    policy = tmp_path / "policy.yaml"
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    policy.write_bytes(data)
    PWNED.unlink(missing_ok=True)

    with pytest.raises(PseudolabError) as caught:
        load_policy_bytes(data, str(policy))
    in_process = exception_texts(caught.value)
    result = run(export, tmp_path / "out", module_keyring, policy=str(policy))

    assert result.code == 2, result.stderr
    assert "Traceback" not in result.console
    lines = result.stderr.strip().removeprefix("pseudolab: ").splitlines()
    assert all(line.startswith(f"{policy}:") for line in lines), lines  # file:line: code: ...
    reported = {line.removeprefix(f"{policy}:").split(": ")[1] for line in lines}
    assert codes <= reported, reported
    assert not (tmp_path / "out").exists()
    assert not PWNED.exists() and not Path("/tmp/ZORGLUBCANARY").exists()
    assert_nothing_leaks(keys, in_process, result.console)


def test_near_misses_are_quoted_and_other_values_are_not():
    text = SHIPPED.replace(
        "{name: nom_naissance, action: drop}", "{name: nom_naissance, action: dropp}"
    )
    text = text.replace("{name: nom_usage, action: drop}", "{name: nom_usage, action: PCANARY001}")
    with pytest.raises(PseudolabError) as caught:
        load_policy_bytes(text.encode(), "p.yaml")
    message = str(caught.value)
    assert "unknown action 'dropp'" in message
    assert "unknown action '<not shown>'" in message
    assert "PCANARY001" not in message


# --------------------------------------------------------------------------- bad keyrings


def _keyring_document(keys_path: Path, **changes) -> dict:
    document = json.loads(keys_path.read_text())
    entry = dict(document["keys"][0])
    entry.update(changes.pop("entry", {}))
    document["keys"] = [entry]
    document.update(changes)
    return document


def _secret(keys_path: Path) -> str:
    return json.loads(keys_path.read_text())["keys"][0]["secret"]


def _weak(keys_path: Path) -> dict:
    # 32 bytes, but only 4 distinct values: a placeholder, not a random key.
    weak = base64.b64encode(bytes(range(4)) * 8).decode()
    return _keyring_document(keys_path, entry={"secret": weak})


def _short(keys_path: Path) -> dict:
    short = base64.b64encode(base64.b64decode(_secret(keys_path))[:16]).decode()
    return _keyring_document(keys_path, entry={"secret": short})


def _truncated(keys_path: Path) -> str:
    return keys_path.read_text()[:-30]


def _swapped(keys_path: Path) -> dict:
    return _keyring_document(keys_path, primary=_secret(keys_path))


def _secret_as_id(keys_path: Path) -> dict:
    secret = _secret(keys_path)
    return _keyring_document(keys_path, primary=secret, entry={"id": secret})


BAD_KEYRINGS = {
    # name: (document builder, expected code)
    "weak-key": (_weak, "keyring-weak-key"),
    "short-key": (_short, "keyring-weak-key"),
    "truncated-json": (_truncated, "keyring-invalid"),
    "secret-as-key-id": (_secret_as_id, "keyring-invalid"),
    "secret-as-primary": (_swapped, "keyring-primary"),
}


@pytest.mark.parametrize("source", ["file", "env"])
@pytest.mark.parametrize(
    "case",
    BAD_KEYRINGS,
)
def test_bad_keyring_refuses_without_echoing_key_material(case, source, tmp_path, export, keys):
    builder, code = BAD_KEYRINGS[case]
    # Each case gets a keyring of its own: the secret checked is the one written.
    good = tmp_path / "good.json"
    write_new_keyring(good)
    own = KeyMaterial(good)
    document = builder(good)
    text = document if isinstance(document, str) else json.dumps(document)
    if source == "file":
        bad = tmp_path / "bad.json"
        bad.write_text(text)
        os.chmod(bad, 0o600)
        result = run(export, tmp_path / "out", bad)
    else:
        result = run(
            export, tmp_path / "out", "env:PSEUDOLAB_TEST_KEYRING",
            env={"PSEUDOLAB_TEST_KEYRING": text},
        )  # fmt: skip
    assert result.code == 2, result.stderr
    assert result.stderr.startswith(f"pseudolab: {code}: ")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()
    assert_nothing_leaks(own, result.console)
    assert_nothing_leaks(keys, result.console)
    if not isinstance(document, str):  # nor the secret the bad document holds
        for entry in document["keys"]:
            assert entry["secret"] not in result.console


def test_world_readable_keyring_and_unset_variable(tmp_path, export, module_keyring, keys):
    readable = tmp_path / "readable.json"
    readable.write_bytes(module_keyring.read_bytes())
    os.chmod(readable, 0o644)
    refused = run(export, tmp_path / "out", readable)
    unset = run(export, tmp_path / "out", "env:PSEUDOLAB_NO_SUCH_KEYRING")
    assert (refused.code, unset.code) == (2, 2)
    assert "keyring-permissions" in refused.stderr and "keyring-missing" in unset.stderr
    assert not (tmp_path / "out").exists()
    assert_nothing_leaks(keys, refused.console, unset.console)


# --------------------------------------------------------------------------- bad rows, outputs


def test_published_run_with_rejected_canaries_leaks_nothing(tmp_path, export, module_keyring, keys):
    output = tmp_path / "out"
    env = {"TMPDIR": str(tmp_path / "tmp")}
    (tmp_path / "tmp").mkdir()
    result = pseudolab(
        "run", "--policy", "lab-export-v1", "--input", str(export), "--output", str(output),
        "--keyring", str(module_keyring), env=env,
    )  # fmt: skip
    assert result.code == 0, result.stderr
    report = json.loads((output / "report.json").read_text())
    assert report["rejected_by_reason"].get("invalid-date", 0) >= 1
    assert_nothing_leaks(keys, result.console, trees=(output, tmp_path / "tmp"))
    assert not [p for p in tmp_path.iterdir() if "staging" in p.name]


# --------------------------------------------------------------------------- killed mid-run


def _command(export: Path, output: Path, keyring: Path) -> list[str]:
    script = Path(sys.executable).with_name("pseudolab")
    prefix = [str(script)] if script.exists() else [sys.executable, "-m", "pipeline.cli"]
    return [
        *prefix, "run", "--policy", "lab-export-v1", "--input", str(export),
        "--output", str(output), "--keyring", str(keyring),
    ]  # fmt: skip


def _staged(parent: Path, pattern: str) -> bool:
    return any(
        path.is_file() for staging in parent.glob(".out.pseudolab-staging-*")
        for path in staging.rglob(pattern)
    )  # fmt: skip


@pytest.fixture(scope="module")
def big_export(workdir: Path) -> Path:
    return write_export(workdir / "big.csv", 40_000, [CANARY_ROW] * 3, seed=11)


@pytest.mark.parametrize("moment", ["first-part-file", "first-pass-done"])
def test_killed_run_leaves_no_canary_or_key_in_temp_or_staging(
    moment, tmp_path, big_export, module_keyring, keys
):
    directory = tmp_path
    big = big_export
    scratch = directory / "tmp"
    scratch.mkdir()
    output = directory / "out"
    pattern = ".*.parquet.tmp" if moment == "first-part-file" else "measures.json"
    process = subprocess.Popen(
        _command(big, output, module_keyring),
        env={k: v for k, v in {**os.environ, "TMPDIR": str(scratch)}.items()
             if k != cli.DEBUG_ENV},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True,
    )  # fmt: skip
    deadline = time.monotonic() + 120
    while process.poll() is None and time.monotonic() < deadline:
        if _staged(directory, pattern):
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.005)
    stdout, stderr = process.communicate(timeout=60)
    if process.returncode == 0:
        pytest.skip(f"the run finished before {moment} was seen: nothing was killed")
    assert process.returncode == -signal.SIGKILL
    assert not output.exists()
    leftovers = [scratch] + [p for p in directory.iterdir() if "staging" in p.name]
    assert len(leftovers) >= 2, "the kill left the staging directory to inspect"
    assert_nothing_leaks(keys, stdout.decode(), stderr.decode(), trees=tuple(leftovers))


# --------------------------------------------------------------------------- in-process


def test_pseudonymise_fn_pickles_without_key_material(module_keyring, keys):
    policy = load_policy(shipped_policy_path("lab-export-v1"))
    keyring = load_keyring(module_keyring)
    fn = _PseudonymiseFn(policy, KeyringRef(str(module_keyring), keyring.primary_id))
    fn.setup()
    assert fn._applier is not None  # the key is loaded, as on a worker
    beam_pickled = base64.b64decode(pickler.dumps(fn))  # Beam's pickler returns base64
    for dumped in (beam_pickled, pickle.dumps(fn)):
        assert keys.found_in_bytes(dumped) == []
    clone = pickler.loads(pickler.dumps(fn))
    assert clone._applier is None
    for secret_holder in (keyring, keyring.primary, fn._applier, Tokeniser(keyring.primary, "x")):
        with pytest.raises(TypeError):
            pickle.dumps(secret_holder)
        assert keys.found_in_text(repr(secret_holder) + str(secret_holder)) == []
    # Nor do the attributes of what holds derived keys, printed by a debugger or a log.
    assert keys.found_in_text(repr(vars(PolicyApplier(policy, keyring)))) == []


def _request(export: Path, output: Path, keyring: Path, policy: str) -> RunRequest:
    return RunRequest(policy=policy, inputs=[str(export)], output=str(output), keyring=str(keyring))


def test_logs_of_an_in_process_run_hold_no_canary(
    tmp_path, export, module_keyring, keys, caplog, monkeypatch, capsys
):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setenv("TMPDIR", str(scratch))
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    caplog.set_level(logging.DEBUG)
    policy = str(policy_without_privacy_gate(tmp_path))

    report = execute(_request(export, tmp_path / "out", module_keyring, policy))
    assert report["rows_in"] == 1002 == report["rows_out"] + report["rows_rejected"]
    gated = execute(_request(export, tmp_path / "gated", module_keyring, "lab-export-v1"))
    assert gated["privacy"]["k_achieved"] >= 5
    header_only = tmp_path / "header.csv"
    header_only.write_bytes(export.read_bytes().split(b"\n", 1)[0] + b"\n")
    with pytest.raises(PseudolabError) as caught:
        execute(_request(header_only, tmp_path / "never", module_keyring, policy))

    captured = capsys.readouterr()
    records = "\n".join(
        f"{r.name} {r.levelname} {r.getMessage()} {r.exc_text or ''} {r.args!r}"
        for r in caplog.records
    )
    assert caplog.records, "Beam logged at debug level"
    assert_nothing_leaks(
        keys, caplog.text, records, captured.out, captured.err, exception_texts(caught.value),
        json.dumps(report), json.dumps(gated),
        trees=(tmp_path / "out", tmp_path / "gated", scratch),
    )  # fmt: skip


def test_unexpected_error_inside_the_pipeline_shows_only_its_type(
    tmp_path, export, module_keyring, keys, caplog, capsys, monkeypatch
):
    secret = keys.texts[0]

    def explode(self, batch):
        raise ValueError(f"cell {CANARY_ROW['nom_naissance']} {CANARY_ROW['nir']} key {secret}")

    monkeypatch.setattr(PolicyApplier, "apply", explode)
    caplog.set_level(logging.DEBUG)
    code = cli.main(
        ["run", "--policy", "lab-export-v1", "--input", str(export), "--output",
         str(tmp_path / "out"), "--keyring", str(module_keyring)]
    )  # fmt: skip
    captured = capsys.readouterr()
    assert code == 1
    lines = captured.err.strip().splitlines()
    assert lines[-1].startswith("pseudolab: unexpected ") and "details withheld" in lines[-1]
    assert not (tmp_path / "out").exists()
    assert_nothing_leaks(keys, caplog.text, captured.out, captured.err)


def test_unexpected_error_outside_the_pipeline_shows_only_its_type(capsys, monkeypatch, keys):
    from pipeline import commands

    def explode(args, beam_args):
        raise KeyError(f"{CANARY_ROW['ipp_patient']} {keys.texts[0]}")

    monkeypatch.setattr(commands, "command_check", explode)
    assert cli.main(["check", "--policy", "lab-export-v1"]) == 1
    err = capsys.readouterr().err
    assert err.strip() == (
        "pseudolab: unexpected KeyError; nothing was published (details withheld as they"
        f" may quote data; {cli.DEBUG_ENV}=1 shows them)"
    )
    monkeypatch.setenv(cli.DEBUG_ENV, "1")
    assert cli.main(["check", "--policy", "lab-export-v1"]) == 1
    assert "PCANARY001" in capsys.readouterr().err  # the switch works, and is off by default
