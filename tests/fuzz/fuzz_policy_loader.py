"""Coverage-guided fuzz target (atheris / libFuzzer) for the policy loader.

Run from the repository root, in the project's virtual environment::

    python tests/fuzz/fuzz_policy_loader.py -max_total_time=120
    python tests/fuzz/fuzz_policy_loader.py -max_total_time=600 -max_len=8192 my-corpus/

Without a corpus directory the target seeds itself (the shipped policy and smaller
valid and invalid ones, in $TMPDIR/pseudolab-fuzz-policy-UID, replaced at each start:
name a directory to keep the corpus it grows) and adds a dictionary of YAML and policy
tokens. libFuzzer options pass through. A failure writes `crash-*` in the current
directory; replay it with ``python tests/fuzz/fuzz_policy_loader.py crash-...`` and
keep it as a regression test in tests/unit/test_loader.py.

Each input is the bytes of a policy file, given to `load_policy_bytes`. The target checks:

- the only exception is `PolicyError` (a refusal); anything else is a crash;
- a refusal lists at least one problem, each with a known reason code, a line within
  the file and a one-line message whose quoted parts are short (no value echoed);
- a policy that loads is consistent: every column is named once, every output column
  is produced by a rule, and loading its bytes again gives the same policy.
"""

from __future__ import annotations

import os
import re
import sys

import atheris

with atheris.instrument_imports():
    import yaml  # noqa: F401 - instrumented: the parser is pure Python

    from schemas.errors import POLICY_REASONS, PolicyError
    from schemas.loader import load_policy_bytes, shipped_policy_path

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _seeds import with_seeds

SOURCE = "fuzz.yaml"
_LINE_BREAKS = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


def _check_refusal(error: PolicyError, data: bytes) -> None:
    assert error.problems, "a refusal names at least one problem"
    text = data.decode("utf-8", "replace")
    lines = len(_LINE_BREAKS.findall(text)) + 2  # YAML's line breaks, CR and NEL included
    for problem in error.problems:
        assert problem.code in POLICY_REASONS, problem.code
        assert 0 <= problem.line <= lines, (problem.line, lines)
        message = str(problem)
        assert "\n" not in message and "\r" not in message, "one line per problem"
        for quoted in message.split("'")[1::2]:
            assert len(quoted) <= 40, "a long value was quoted"


def _check_policy(policy, data: bytes) -> None:
    names = [rule.name for rule in policy.columns]
    assert len(names) == len(set(names)), "a column is named once"
    assert policy.outputs and len(policy.outputs) == len(set(policy.outputs))
    assert load_policy_bytes(data, SOURCE) == policy, "loading is deterministic"


def TestOneInput(data: bytes) -> None:
    try:
        policy = load_policy_bytes(data, SOURCE)
    except PolicyError as error:
        _check_refusal(error, data)
        return
    _check_policy(policy, data)


_SMALL = b"""pseudolab_policy: 1
name: test
version: "1.0"
input: {delimiter: ",", encoding: cp1252, decimal: ".", date_format: "%Y-%m-%d"}
columns:
  - name: id
    action: tokenise
    normaliser: nir
    domain: patient
    on_invalid: reject
    flag_as: id_bad
    as: id_token
  - {name: born, type: date, action: generalise, operation: age_band, reference: seen}
  - {name: seen, type: datetime, action: generalise, operation: year_month}
  - {name: v, type: number, action: generalise, operation: bucket, width: 2.5, top: 100}
  - {name: cp, action: generalise, operation: prefix, length: 2}
  - {name: n, type: integer, action: keep, as: count}
  - {name: mail, action: encrypt, normaliser: email, domain: contact}
  - {name: num, action: fpe, format: digits, domain: numbers}
  - {name: secret, action: drop}
output:
  columns: [id_token, id_bad, born, seen, v, cp, count, mail, num]
recipient: inserm-u123
"""
_SEEDS = {
    "shipped": shipped_policy_path("lab-export-v1").read_bytes(),
    "small": _SMALL,
    "anchors": b"a: &x [1, 2]\nb: *x\nc: !!python/object/apply:os.system [echo]\n",
    "flow": b'{pseudolab_policy: 1, name: t, version: "1", columns: [{name: a, action: keep}],'
    b" output: {columns: [a]}}\n",
}
_TOKENS = [
    b"pseudolab_policy: 1",
    b"columns:",
    b"output:",
    b"privacy:",
    b"input:",
    b"- name: ",
    b"action: ",
    b"keep",
    b"drop",
    b"tokenise",
    b"generalise",
    b"encrypt",
    b"fpe",
    b"normaliser: ",
    b"domain: ",
    b"operation: ",
    b"age_band",
    b"year_month",
    b"bucket",
    b"prefix",
    b"departement",
    b"reference: ",
    b"type: ",
    b"date",
    b"datetime",
    b"integer",
    b"number",
    b"as: ",
    b"flag_as: ",
    b"on_invalid: ",
    b"width: ",
    b"top: ",
    b"length: ",
    b"subject: ",
    b"quasi_identifiers: ",
    b"k: ",
    b"on_violation: ",
    b"generalise:",
    b"&a ",
    b"*a",
    b"!!str ",
    b"!!python/object:",
    b"<<: ",
    b"---\n",
    b"...\n",
    b"? ",
    b"{",
    b"}",
    b"[",
    b"]",
    b", ",
    b"'",
    b'"',
    b"|\n",
    b">\n",
    b"\t",
    b"\xef\xbb\xbf",
    b"%YAML 1.1\n",
]


if __name__ == "__main__":
    atheris.Setup(with_seeds("policy", sys.argv, _SEEDS, _TOKENS), TestOneInput)
    atheris.Fuzz()
