"""The policy loader: safe parsing, limits, defaults, and one test per reason code."""

from __future__ import annotations

import contextlib
import difflib
import hashlib
import string
import time
import traceback
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from schemas.errors import POLICY_REASONS, PolicyError
from schemas.loader import (
    SHIPPED_POLICIES,
    load_policy,
    load_policy_bytes,
    load_policy_text,
    shipped_policy_path,
)
from schemas.model import (
    AgeBand,
    Bucket,
    Departement,
    Drop,
    Encrypt,
    Fpe,
    Generalise,
    InputFormat,
    Keep,
    Prefix,
    Tokenise,
    Year,
    YearMonth,
)

HEADER = 'pseudolab_policy: 1\nname: test\nversion: "1.0"\n'  # lines 1-3

# A small valid policy; the line numbers of its entries are used below.
VALID = HEADER + (
    "columns:\n"  # 4
    "  - name: id\n"  # 5
    "    action: tokenise\n"  # 6
    "    normaliser: exact\n"  # 7
    "    domain: patient\n"  # 8
    "    as: id_token\n"  # 9
    "  - name: born\n"  # 10
    "    type: date\n"  # 11
    "    action: generalise\n"  # 12
    "    operation: age_band\n"  # 13
    "    reference: seen\n"  # 14
    "  - name: seen\n"  # 15
    "    type: datetime\n"  # 16
    "    action: generalise\n"  # 17
    "    operation: year_month\n"  # 18
    "  - {name: secret, action: drop}\n"  # 19
    "output:\n"  # 20
    "  columns: [id_token, born, seen]\n"  # 21
)


def problems(text: str) -> list[tuple[int, str]]:
    """(line, code) of every problem the loader reports for `text`."""
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    return [(problem.line, problem.code) for problem in caught.value.problems]


def policy_with(columns: str, outputs: str) -> str:
    """HEADER, then `columns` (entries from line 5 on), then output.columns."""
    return HEADER + "columns:\n" + columns + f"output:\n  columns: [{outputs}]\n"


# --- loads ---------------------------------------------------------------------------


def test_shipped_policy_loads_with_37_columns() -> None:
    assert "lab-export-v1" in SHIPPED_POLICIES
    policy = load_policy(shipped_policy_path("lab-export-v1"))
    assert policy.name == "lab-export-v1"
    assert policy.version == "1.0.0"
    assert len(policy.columns) == 37
    assert len(set(policy.column_names)) == 37


def test_valid_policy_and_defaults() -> None:
    policy = load_policy_text(VALID, "given/source.yaml")
    assert policy.source == "given/source.yaml"
    assert policy.name == "test"
    assert policy.version == "1.0"
    assert policy.description == ""
    assert policy.input == InputFormat()
    assert policy.column_names == ("id", "born", "seen", "secret")
    assert policy.outputs == ("id_token", "born", "seen")
    id_rule = policy.rule("id")
    assert id_rule.type == "string"
    assert id_rule.line == 5
    assert id_rule.action == Tokenise("id_token", "exact", "patient", "null", None)
    assert policy.rule("born").action == Generalise("born", AgeBand("seen", 5, 90))
    assert policy.rule("seen").action == Generalise("seen", YearMonth())
    assert policy.rule("secret").action == Drop()
    assert policy.rule("secret").line == 19


def test_every_operation_and_option() -> None:
    text = HEADER + (
        "description: >\n  Several\n  lines.\n"
        "input: {delimiter: \"\\t\", encoding: cp1252, decimal: '.',"
        " date_format: '%Y-%m-%d', datetime_format: '%Y-%m-%dT%H:%M:%S'}\n"
        "columns:\n"
        "  - {name: a, type: date, action: generalise, operation: year}\n"
        "  - {name: b, action: generalise, operation: departement, as: dep}\n"
        "  - {name: c, action: generalise, operation: prefix, length: 2}\n"
        "  - {name: d, type: number, action: generalise, operation: bucket, width: 2.5}\n"
        "  - {name: e, type: integer, action: generalise, operation: bucket, width: 10, top: 100}\n"
        "  - {name: f, type: datetime, action: generalise, operation: age_band, reference: g,"
        " width: 10, top: 80}\n"
        "  - {name: g, type: datetime, action: keep, as: when}\n"
        "  - name: h\n    action: tokenise\n    normaliser: nir\n    domain: patient\n"
        "    on_invalid: reject\n    flag_as: h_bad\n"
        "  - {name: i, action: tokenise, normaliser: name, domain: x-y_z, on_invalid: null}\n"
        "output:\n  columns: [a, dep, c, d, e, f, when, h, h_bad, i]\n"
    )
    policy = load_policy_text(text, "p.yaml")
    assert policy.description == "Several lines."
    assert policy.input == InputFormat("\t", "cp1252", "%Y-%m-%d", "%Y-%m-%dT%H:%M:%S", ".")
    actions = {rule.name: rule.action for rule in policy.columns}
    assert actions["a"] == Generalise("a", Year())
    assert actions["b"] == Generalise("dep", Departement())
    assert actions["c"] == Generalise("c", Prefix(2))
    assert actions["d"] == Generalise("d", Bucket(2.5, None))
    assert actions["e"] == Generalise("e", Bucket(10.0, 100.0))
    assert actions["f"] == Generalise("f", AgeBand("g", 10, 80))
    assert actions["g"] == Keep("when")
    assert actions["h"] == Tokenise("h", "nir", "patient", "reject", "h_bad")
    assert actions["i"] == Tokenise("i", "name", "x-y_z", "null", None)


@pytest.mark.parametrize("written, kept", [("1", "1"), ("1.10", "1.10"), ('"2024.1"', "2024.1")])
def test_version_number_is_kept_as_its_text(written: str, kept: str) -> None:
    text = VALID.replace('version: "1.0"', f"version: {written}")
    assert load_policy_text(text, "p.yaml").version == kept


def test_sha256_is_of_the_file_bytes_and_changes_with_them(tmp_path: Path) -> None:
    first, second = tmp_path / "a.yaml", tmp_path / "b.yaml"
    first.write_bytes(VALID.encode())
    second.write_bytes((VALID + "# a comment\n").encode())
    one, two = load_policy(first), load_policy(second)
    assert one.sha256 == hashlib.sha256(VALID.encode()).hexdigest()
    assert one.sha256 != two.sha256
    assert one.columns == two.columns
    assert one.source == str(first)
    assert load_policy_text(VALID, "x").sha256 == one.sha256


# --- file-level refusals -------------------------------------------------------------


def test_unreadable_file(tmp_path: Path) -> None:
    for path in (tmp_path / "missing.yaml", tmp_path):
        with pytest.raises(PolicyError) as caught:
            load_policy(path)
        assert [(p.line, p.code) for p in caught.value.problems] == [(0, "policy-unreadable")]


def test_unknown_shipped_policy() -> None:
    for name in ("no-such-policy", "../loader", ""):
        with pytest.raises(PolicyError) as caught:
            shipped_policy_path(name)
        assert caught.value.problems[0].code == "policy-unreadable"


def test_syntax_error_has_its_line() -> None:
    text = HEADER + "columns:\n  - name: a\n   action: keep\n"
    assert problems(text) == [(6, "policy-syntax")]
    assert problems("name: [unclosed\n") == [(2, "policy-syntax")]
    assert problems("a: 1\n---\nb: 2\n") == [(2, "policy-syntax")]


def test_invalid_utf8_is_a_syntax_error() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_bytes(VALID.encode() + b"# caf\xe9\n", "p.yaml")
    assert [(p.line, p.code) for p in caught.value.problems] == [(22, "policy-syntax")]


def test_two_megabyte_file_is_refused_quickly(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(VALID.encode() + b"#" + b"x" * (2 << 20) + b"\n")
    start = time.perf_counter()
    with pytest.raises(PolicyError) as caught:
        load_policy(path)
    assert time.perf_counter() - start < 1
    assert [(p.line, p.code) for p in caught.value.problems] == [(0, "policy-too-large")]
    assert problems("a: " + "x" * (2 << 20)) == [(0, "policy-too-large")]


@pytest.mark.parametrize(
    "text, line",
    [
        ("a: " + "[" * 100_000, 1),
        ("a: " + "{a: " * 100_000, 1),
        ("".join("  " * depth + f"k{depth}:\n" for depth in range(40)) + "  " * 40 + "v\n", 21),
    ],
)
def test_deep_nesting_is_refused_quickly(text: str, line: int) -> None:
    start = time.perf_counter()
    assert problems(text) == [(line, "policy-too-large")]
    assert time.perf_counter() - start < 1


def test_too_many_columns() -> None:
    columns = "".join(f"  - {{name: c{i}, action: drop}}\n" for i in range(2001))
    assert problems(policy_with(columns, "c0")) == [(5, "policy-too-large")]


def test_alias_bomb_is_refused_quickly() -> None:
    lines = ['a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for previous, name in zip("abcdefgh", "bcdefghi", strict=True):
        lines.append(f"{name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]")
    start = time.perf_counter()
    found = problems("\n".join(lines) + "\n")
    assert time.perf_counter() - start < 1
    assert found[:2] == [(1, "unsupported-yaml"), (2, "unsupported-yaml")]
    assert {code for _, code in found} == {"unsupported-yaml"}


def test_anchor_and_alias_are_refused() -> None:
    text = VALID.replace("domain: patient", "domain: &d patient") + "extra: *d\n"
    assert problems(text) == [(8, "unsupported-yaml"), (22, "unsupported-yaml")]


@pytest.mark.parametrize(
    "value",
    [
        "!!python/object:os.system x",
        "!!python/object/apply:os.system [echo]",
        "!!binary aGVsbG8=",
        "!!set {a: null}",
        "!custom x",
        "!!map {a: b}",
    ],
)
def test_non_standard_tags_are_refused(value: str) -> None:
    assert problems(VALID + f"extra: {value}\n") == [(22, "unsupported-yaml")]


def test_python_tag_message_names_the_tag() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(VALID.replace("name: test", "name: !!python/object:os.system x"), "p")
    assert "!!python/object:os.system" in str(caught.value)


def test_standard_scalar_tags_are_accepted() -> None:
    text = VALID.replace("domain: patient", "domain: !!str patient")
    assert load_policy_text(text, "p").rule("id").action.domain == "patient"


@pytest.mark.parametrize("text", ["", "# only a comment\n", "- a\n", "just text\n"])
def test_document_must_be_a_mapping(text: str) -> None:
    assert problems(text) == [(1, "invalid-value")]


# --- one test per reason code --------------------------------------------------------


def test_missing_field() -> None:
    assert problems(VALID.replace("    domain: patient\n", "")) == [(5, "missing-field")]
    assert problems(VALID.replace('version: "1.0"\n', "")) == [(1, "missing-field")]
    without_output = VALID[: VALID.index("output:")]
    assert problems(without_output) == [(1, "missing-field")]


def test_unknown_field_typo() -> None:
    text = VALID.replace("normaliser: exact", "normalizer: exact")
    assert problems(text) == [(5, "missing-field"), (7, "unknown-field")]


def test_unknown_field_that_belongs_to_another_action() -> None:
    text = VALID.replace("{name: secret, action: drop}", "{name: secret, action: drop, domain: x}")
    assert problems(text) == [(19, "unknown-field")]
    keep = policy_with("  - name: a\n    action: keep\n    domain: x\n", "a")
    assert problems(keep) == [(7, "unknown-field")]
    top = policy_with("  - {name: a, action: keep}\n", "a") + "colour: red\n"
    assert problems(top) == [(8, "unknown-field")]


def test_operation_parameter_on_another_operation_is_unknown() -> None:
    text = VALID.replace("operation: year_month", "operation: year_month\n    width: 5")
    assert problems(text) == [(19, "unknown-field")]


@pytest.mark.parametrize(
    "old, new, line",
    [
        ("pseudolab_policy: 1", "pseudolab_policy: 2", 1),
        ("pseudolab_policy: 1", "pseudolab_policy: '1'", 1),
        ("name: test", "name: Test Policy", 2),
        ('version: "1.0"', "version: [1]", 3),
        ("domain: patient", "domain: Patient", 8),
        ("as: id_token", "as: 9lives", 9),
        ("as: id_token", "as: no", 9),
        ("reference: seen", "reference: seen\n    width: 0", 15),
        ("reference: seen", "reference: seen\n    top: 151", 15),
        ("reference: seen", "reference: seen\n    width: five", 15),
        ("reference: seen", "reference: born", 14),
        ("name: secret", "name: 'bad name'", 19),
        ("[id_token, born, seen]", "[id_token, born, seen, id_token]", 21),
        ("[id_token, born, seen]", "[]", 21),
        ("columns:\n  - name: id", "columns: []\nx:\n  - name: id", 4),
    ],
)
def test_invalid_value(old: str, new: str, line: int) -> None:
    found = problems(VALID.replace(old, new, 1))
    assert (line, "invalid-value") in found


@pytest.mark.parametrize(
    "field, value",
    [
        ("delimiter", "';;'"),
        ("delimiter", "'\"'"),
        ("encoding", "klingon"),
        ("encoding", "hex"),
        ("date_format", "dd/mm/yyyy"),
        ("datetime_format", "'%Q'"),
        ("decimal", "';'"),
        ("decimal", "1"),
    ],
)
def test_invalid_input_format(field: str, value: str) -> None:
    text = VALID + f"input:\n  {field}: {value}\n"
    assert problems(text) == [(23, "invalid-value")]


@pytest.mark.parametrize(
    "old, new, line",
    [
        ("width: 5", "width: 0", 5),
        ("width: 5", "width: -1", 5),
        ("width: 5", "width: .inf", 5),
        ("width: 5", "width: '5'", 5),
        ("top: 100", "top: .nan", 5),
    ],
)
def test_invalid_bucket(old: str, new: str, line: int) -> None:
    bucket = (
        "  - {name: v, type: number, action: generalise, operation: bucket, width: 5, top: 100}\n"
    )
    assert load_policy_text(policy_with(bucket, "v"), "p")
    assert problems(policy_with(bucket.replace(old, new), "v")) == [(line, "invalid-value")]


def test_invalid_prefix_length() -> None:
    prefix = "  - name: c\n    action: generalise\n    operation: prefix\n    length: 0\n"
    assert problems(policy_with(prefix, "c")) == [(8, "invalid-value")]
    missing = "  - {name: c, action: generalise, operation: prefix}\n"
    assert problems(policy_with(missing, "c")) == [(5, "missing-field")]


def test_duplicate_mapping_key_is_invalid() -> None:
    text = VALID.replace("    as: id_token\n", "    as: id_token\n    as: other\n")
    assert problems(text) == [(10, "invalid-value")]


def test_duplicate_column() -> None:
    text = VALID.replace("{name: secret, action: drop}", "{name: id, action: drop}")
    assert problems(text) == [(19, "duplicate-column")]


def test_unknown_type() -> None:
    text = VALID.replace("type: datetime", "type: timestamp")
    assert problems(text) == [(16, "unknown-type")]


def test_unknown_action() -> None:
    text = VALID.replace("{name: secret, action: drop}", "{name: secret, action: hash}")
    assert problems(text) == [(19, "unknown-action")]


def test_unknown_normaliser() -> None:
    assert problems(VALID.replace("normaliser: exact", "normaliser: phone")) == [
        (7, "unknown-normaliser")
    ]


def test_encrypt_and_fpe_actions() -> None:
    encrypt = VALID.replace("action: tokenise", "action: encrypt")
    rule = load_policy_text(encrypt, "p.yaml").rule("id")
    assert rule.action == Encrypt("id_token", "exact", "patient", "null", None)
    fpe = VALID.replace("action: tokenise", "action: fpe").replace(
        "normaliser: exact", "format: nir"
    )
    assert load_policy_text(fpe, "p.yaml").rule("id").action == Fpe("id_token", "nir", "patient")


def test_unknown_format() -> None:
    text = VALID.replace("action: tokenise", "action: fpe").replace(
        "normaliser: exact", "format: letters"
    )
    assert problems(text) == [(7, "unknown-format")]


def test_recipient_is_kept_and_checked() -> None:
    assert load_policy_text(VALID + "recipient: inserm-u123\n", "p.yaml").recipient == "inserm-u123"
    assert problems(VALID + "recipient: Not Valid\n") == [(22, "invalid-value")]


def test_unknown_operation() -> None:
    text = VALID.replace("operation: year_month", "operation: month")
    assert problems(text) == [(18, "unknown-operation")]


def test_type_mismatch() -> None:
    on_string = VALID.replace("    type: date\n", "\n")
    assert problems(on_string) == [(13, "type-mismatch")]
    tokenise_date = VALID.replace(
        "    action: tokenise\n", "    type: date\n    action: tokenise\n"
    )
    assert problems(tokenise_date) == [(7, "type-mismatch")]
    bucket = "  - {name: v, action: generalise, operation: bucket, width: 5}\n"
    assert problems(policy_with(bucket, "v")) == [(5, "type-mismatch")]


def test_unknown_reference() -> None:
    assert problems(VALID.replace("reference: seen", "reference: nowhere")) == [
        (14, "unknown-reference")
    ]
    not_a_date = VALID.replace("reference: seen", "reference: secret")
    assert problems(not_a_date) == [(14, "unknown-reference")]


def test_duplicate_output() -> None:
    text = VALID.replace("{name: secret, action: drop}", "{name: secret, action: keep, as: born}")
    assert problems(text) == [(19, "duplicate-output")]
    flag = VALID.replace("    as: id_token\n", "    as: id_token\n    flag_as: seen\n")
    assert problems(flag) == [(16, "duplicate-output")]


def test_output_not_produced() -> None:
    text = VALID.replace("[id_token, born, seen]", "[id_token, born, seen, secret]")
    assert problems(text) == [(21, "output-not-produced")]


def test_output_not_listed() -> None:
    text = VALID.replace("[id_token, born, seen]", "[id_token, born]")
    assert problems(text) == [(15, "output-not-listed")]
    flag = VALID.replace("    as: id_token\n", "    as: id_token\n    flag_as: id_bad\n")
    assert problems(flag) == [(10, "output-not-listed")]


def test_every_policy_code_is_tested() -> None:
    tested = {
        "policy-unreadable",
        "policy-syntax",
        "policy-too-large",
        "unsupported-yaml",
        "missing-field",
        "unknown-field",
        "invalid-value",
        "duplicate-column",
        "unknown-type",
        "unknown-action",
        "unknown-normaliser",
        "unknown-operation",
        "unknown-format",
        "type-mismatch",
        "unknown-reference",
        "duplicate-output",
        "output-not-produced",
        "output-not-listed",
    }
    assert set(POLICY_REASONS) <= tested


# --- several problems at once, and what messages may say -----------------------------


def test_several_problems_are_reported_together_with_their_lines() -> None:
    text = HEADER + (
        "columns:\n"  # 4
        "  - name: id\n"  # 5
        "    action: tokenise\n"  # 6
        "    normalizer: exact\n"  # 7
        "    domain: patient\n"  # 8
        "  - {name: born, action: generalise, operation: age_band, reference: x}\n"  # 9
        "  - {name: id, type: blob, action: keep}\n"  # 10
        "  - {name: c, action: shred}\n"  # 11
        "output:\n"  # 12
        "  columns: [id, born]\n"  # 13
    )
    assert problems(text) == [
        (5, "missing-field"),
        (7, "unknown-field"),
        (9, "type-mismatch"),
        (9, "unknown-reference"),
        (10, "duplicate-column"),
        (10, "duplicate-output"),
        (10, "unknown-type"),
        (11, "unknown-action"),
    ]


def test_error_text_is_one_line_per_problem_with_file_and_line() -> None:
    text = VALID.replace("normaliser: exact", "normaliser: phone").replace("name: test", "name: T")
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "policies/p.yaml")
    assert str(caught.value).splitlines() == [
        "policies/p.yaml:2: invalid-value: field 'name' must be lower-case letters, digits,"
        " '.', '_' or '-', starting with a letter or digit",
        "policies/p.yaml:7: unknown-normaliser: column 'id' has unknown normaliser '<not shown>'",
    ]
    assert caught.value.exit_code == 2


@pytest.mark.parametrize(
    "old, new",
    [
        ("action: tokenise", "action: " + "t" * 200),
        ("action: tokenise", "action: 'DUPONT Marie 2 84 05 56 260 123 09'"),
        ("normaliser: exact", "normaliser: " + "n" * 300),
        ("normaliser: exact", "normalizer" + "z" * 300 + ": exact"),
        ("domain: patient", "domain: 'Marie DUPONT'"),
        ("operation: year_month", "operation: '2 84 05 56 260 123 09'"),
        ("type: datetime", "type: 'secret value 123'"),
    ],
)
def test_messages_never_echo_long_or_odd_values(old: str, new: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(VALID.replace(old, new), "p.yaml")
    message = str(caught.value)
    assert "DUPONT" not in message and "Marie" not in message and "260 123" not in message
    assert "secret value" not in message
    for quoted in message.split("'")[1::2]:
        assert len(quoted) <= 40


# --- robustness ----------------------------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_random_text_raises_only_policy_error(text: str) -> None:
    with contextlib.suppress(PolicyError):
        load_policy_text(text, "fuzz.yaml")


@settings(max_examples=300, deadline=None)
@given(st.binary())
def test_random_bytes_raise_only_policy_error(data: bytes) -> None:
    with contextlib.suppress(PolicyError):
        load_policy_bytes(data, "fuzz.yaml")


_KEYS = st.sampled_from(
    [
        "pseudolab_policy", "name", "version", "description", "input", "columns", "output",
        "action", "type", "as", "normaliser", "domain", "on_invalid", "flag_as", "operation",
        "reference", "width", "top", "length", "delimiter", "encoding", "decimal", "date_format",
    ]
)  # fmt: skip
_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**30), 10**30),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(
        [
            "keep",
            "drop",
            "tokenise",
            "generalise",
            "age_band",
            "bucket",
            "prefix",
            "year",
            "departement",
            "nir",
            "exact",
            "date",
            "datetime",
            "number",
            "id",
            "born",
            "seen",
            "1",
        ]
    ),
    st.text(string.ascii_letters + string.digits + "_-. %", max_size=12),
)
_TREES = st.recursive(
    _SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=5), st.dictionaries(_KEYS, children, max_size=6)
    ),
    max_leaves=30,
)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.dictionaries(_KEYS, _TREES, max_size=8))
def test_random_policy_shaped_documents_raise_only_policy_error(document: dict) -> None:
    text = yaml.safe_dump(document, allow_unicode=True)
    try:
        load_policy_text(text, "fuzz.yaml")
    except PolicyError as error:
        assert error.problems
        assert all(problem.code in POLICY_REASONS for problem in error.problems)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, len(VALID) - 1), st.integers(0, len(VALID)), st.text(max_size=8))
def test_mutated_valid_policy_raises_only_policy_error(start: int, end: int, insert: str) -> None:
    text = VALID[:start] + insert + VALID[max(start, end) :]
    try:
        load_policy_text(text, "fuzz.yaml")
    except PolicyError as error:
        assert all(0 <= problem.line <= text.count("\n") + 2 for problem in error.problems)


# --- nothing from the file is quoted unless it is policy vocabulary --------------------
# Found by tests/e2e/test_error_path_canaries.py: an identifier pasted where an action,
# type, normaliser, operation, reference or output name belongs was echoed in the error.

_PASTED = "PCANARY001"  # an identifier from the export, not a word of the policy format


@pytest.mark.parametrize(
    "old, new, code",
    [
        ("{name: secret, action: drop}", f"{{name: secret, action: {_PASTED}}}", "unknown-action"),
        ("type: datetime", f"type: {_PASTED}", "unknown-type"),
        ("normaliser: exact", f"normaliser: {_PASTED}", "unknown-normaliser"),
        ("operation: year_month", f"operation: {_PASTED}", "unknown-operation"),
        ("reference: seen", f"reference: {_PASTED}", "unknown-reference"),
        ("[id_token, born, seen]", f"[id_token, born, seen, {_PASTED}]", "output-not-produced"),
        (
            "[id_token, born, seen]",
            f"[id_token, born, seen, {_PASTED}, {_PASTED}]",
            "invalid-value",
        ),
    ],
)
def test_values_that_are_not_vocabulary_are_not_quoted(old: str, new: str, code: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(VALID.replace(old, new), "p.yaml")
    assert code in {problem.code for problem in caught.value.problems}
    assert _PASTED not in str(caught.value)
    assert "<not shown>" in str(caught.value)


@pytest.mark.parametrize(
    "old, new, quoted",
    [
        ("{name: secret, action: drop}", "{name: secret, action: dropp}", "unknown action 'dropp'"),
        ("normaliser: exact", "normaliser: exacte", "unknown normaliser 'exacte'"),
        ("operation: year_month", "operation: year-month", "unknown operation 'year-month'"),
        ("reference: seen", "reference: sen", "refers to 'sen'"),
        ("reference: seen", "reference: secret", "refers to 'secret'"),
        ("[id_token, born, seen]", "[id_tokn, born, seen]", "column 'id_tokn' is listed"),
    ],
)
def test_near_misses_and_declared_names_are_quoted(old: str, new: str, quoted: str) -> None:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(VALID.replace(old, new), "p.yaml")
    assert quoted in str(caught.value)


_ACTIONS = ("keep", "drop", "tokenise", "generalise", "encrypt", "fpe")


@settings(max_examples=200, deadline=None)
@given(
    st.sampled_from(_ACTIONS),
    st.text(string.ascii_letters + "_", min_size=1, max_size=4),
    st.booleans(),
)
def test_an_unknown_action_is_quoted_only_when_near_a_known_one(
    action: str, noise: str, append: bool
) -> None:
    value = action + noise if append else noise + action[len(noise) :]
    if value in _ACTIONS or value.lower() in ("y", "n", "yes", "no", "on", "off", "true", "null"):
        return
    text = VALID.replace("{name: secret, action: drop}", f"{{name: secret, action: '{value}'}}")
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    near = difflib.get_close_matches(value, _ACTIONS, n=1, cutoff=0.75)
    assert (f"'{value}'" in str(caught.value)) == bool(near)


@pytest.mark.parametrize(
    "data",
    [
        b"# 2 84 05 56 260 123 09 DUPONT\nname: \xe9\n",  # not UTF-8
        b"# 2 84 05 56 260 123 09 DUPONT\nname: [a, b\n",  # YAML syntax error
        b"# 2 84 05 56 260 123 09 DUPONT\nname: 'a\n",  # unclosed quote
        b"# 2 84 05 56 260 123 09 DUPONT\n\tname: a\n",  # a tab YAML refuses
    ],
)
def test_policy_errors_carry_no_context_holding_the_file(data: bytes) -> None:
    """Found by the canary suite: the UnicodeDecodeError or YAMLError behind a refusal
    stayed attached as __context__ (``raise ... from None`` only hides it), and both
    hold the whole policy text, comments included."""
    with pytest.raises(PolicyError) as caught:
        load_policy_bytes(data, "p.yaml")
    error = caught.value
    assert error.__cause__ is None and error.__context__ is None
    texts = str(error) + repr(error.args) + "".join(traceback.format_exception(error))
    assert "DUPONT" not in texts and "260 123" not in texts
