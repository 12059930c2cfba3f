"""The header check: every declared column present, once, and nothing else."""

from __future__ import annotations

import random

import pytest

from schemas.errors import InputError
from schemas.header import check_header
from schemas.loader import load_policy, load_policy_text, shipped_policy_path
from schemas.model import Policy

POLICY = """\
pseudolab_policy: 1
name: header-test
version: "1"
columns:
  - {name: alpha, action: keep}
  - {name: beta, action: drop}
  - {name: gamma, action: drop}
output:
  columns: [alpha]
"""


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy_text(POLICY, "header-test.yaml")


def refusal(policy: Policy, header: list[str]) -> InputError:
    with pytest.raises(InputError) as caught:
        check_header(policy, header, "in/export.csv")
    return caught.value


def test_exact_header_passes_in_any_order(policy: Policy) -> None:
    check_header(policy, ["alpha", "beta", "gamma"], "x.csv")
    check_header(policy, ["gamma", "alpha", "beta"], "x.csv")
    check_header(policy, ("beta", "gamma", "alpha"), "x.csv")


def test_shipped_policy_accepts_its_columns_shuffled() -> None:
    shipped = load_policy(shipped_policy_path("lab-export-v1"))
    names = list(shipped.column_names)
    random.Random(7).shuffle(names)
    check_header(shipped, names, "export.csv")


def test_duplicate_header(policy: Policy) -> None:
    error = refusal(policy, ["alpha", "beta", "gamma", "beta", "alpha"])
    assert error.code == "duplicate-header"
    assert error.exit_code == 3
    assert str(error) == (
        "duplicate-header: in/export.csv: column 'alpha, beta' appears more than once in the header"
    )


def test_unknown_columns_are_listed_sorted(policy: Policy) -> None:
    error = refusal(policy, ["zeta", "alpha", "beta", "gamma", "delta"])
    assert error.code == "unknown-column"
    assert (
        str(error)
        == "unknown-column: in/export.csv: column 'delta, zeta' is not named in the policy"
    )


def test_missing_columns_are_listed_sorted(policy: Policy) -> None:
    error = refusal(policy, ["beta"])
    assert error.code == "missing-column"
    assert str(error) == (
        "missing-column: in/export.csv: column 'alpha, gamma' declared in the policy is missing"
    )


def test_unknown_is_reported_before_missing(policy: Policy) -> None:
    assert refusal(policy, ["alpha", "beta", "gama"]).code == "unknown-column"


def test_empty_header_lacks_every_column(policy: Policy) -> None:
    error = refusal(policy, [])
    assert error.code == "missing-column"
    assert "alpha, beta, gamma" in str(error)


def test_names_are_truncated_to_64_characters(policy: Policy) -> None:
    long_name = "x" * 500
    message = str(refusal(policy, ["alpha", "beta", "gamma", long_name]))
    assert "x" * 61 + "..." in message
    assert "x" * 65 not in message


def test_messages_are_value_free(policy: Policy) -> None:
    # A cell value that landed in the header (a stray row) is shown by position only.
    values = ["2 84 05 56 260 123 09", "m.dupont@example.fr", "Marie Anne"]
    message = str(refusal(policy, ["alpha", "beta", "gamma", *values]))
    assert message == (
        "unknown-column: in/export.csv: column '#4, #5, #6' is not named in the policy"
    )


def test_headerless_file_never_echoes_its_first_row(policy: Policy) -> None:
    # None of the names is declared: probably no header row, so even word-like values
    # (a surname, a town) are shown by position.
    first_row = ["DUPONT", "Vannes", "P00045871"]
    message = str(refusal(policy, first_row))
    assert "DUPONT" not in message and "Vannes" not in message and "P00045871" not in message
    assert "'#1, #2, #3'" in message
    duplicated = str(refusal(policy, ["DUPONT", "DUPONT", "x"]))
    assert "DUPONT" not in duplicated and "'#1'" in duplicated
