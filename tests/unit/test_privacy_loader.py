"""The policy's `privacy:` section: what it accepts, and every problem with its line."""

from __future__ import annotations

import pytest

from schemas.errors import PolicyError
from schemas.loader import load_policy, load_policy_text, shipped_policy_path
from schemas.model import GeneraliseStep, PrivacyTargets

# A few columns in the shape of the shipped policy; the privacy section starts at 33.
BASE = (
    'pseudolab_policy: 1\nname: small\nversion: "1.0"\n'  # 1-3
    "columns:\n"  # 4
    "  - name: ipp\n"  # 5
    "    action: tokenise\n"  # 6
    "    normaliser: exact\n"  # 7
    "    domain: patient\n"  # 8
    "    as: patient_token\n"  # 9
    "  - {name: nom, action: drop}\n"  # 10
    "  - {name: sexe, action: keep}\n"  # 11
    "  - name: naissance\n"  # 12
    "    type: date\n"  # 13
    "    action: generalise\n"  # 14
    "    operation: age_band\n"  # 15
    "    reference: prelevement\n"  # 16
    "    width: 5\n"  # 17
    "    top: 90\n"  # 18
    "    as: classe_age\n"  # 19
    "  - name: commune\n"  # 20
    "    action: generalise\n"  # 21
    "    operation: departement\n"  # 22
    "    as: departement\n"  # 23
    "  - name: prelevement\n"  # 24
    "    type: datetime\n"  # 25
    "    action: generalise\n"  # 26
    "    operation: year_month\n"  # 27
    "    as: mois\n"  # 28
    "  - {name: analyse, action: keep}\n"  # 29
    "output:\n"  # 30
    "  columns: [patient_token, sexe, classe_age, departement, mois, analyse]\n"  # 31
    "privacy:\n"  # 32
)
FIRST = 33  # line of the first privacy field

SUBJECT = "  subject: patient_token"
QIS = "  quasi_identifiers: [sexe, classe_age, departement, mois]"


def policy(*lines: str) -> str:
    """BASE then `lines` as the privacy section, from line 33 on."""
    return BASE + "".join(line + "\n" for line in lines)


def generalise(*steps: str) -> list[str]:
    return ["  on_violation: generalise", "  generalise:", *(f"    - {s}" for s in steps)]


def problems(text: str) -> list[tuple[int, str, str]]:
    with pytest.raises(PolicyError) as caught:
        load_policy_text(text, "p.yaml")
    return [(p.line, p.code, p.message) for p in caught.value.problems]


def one_problem(text: str) -> tuple[int, str, str]:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


# --- accepted ------------------------------------------------------------------------


def test_a_full_section_loads():
    text = policy(
        SUBJECT,
        QIS,
        "  k: 5",
        "  sensitive: [analyse]",
        "  l: 2",
        "  max_suppressed_share: 0.1",
        *generalise(
            "{column: mois, to: quarter}",
            "{column: mois, to: year}",
            '{column: classe_age, to: "10"}',
            "{column: departement, to: region}",
            '{column: classe_age, to: "20"}',
            "{column: mois, to: suppressed}",
            "{column: departement, to: suppressed}",
            "{column: classe_age, to: suppressed}",
            "{column: sexe, to: suppressed}",
        ),
    )
    targets = load_policy_text(text, "p.yaml").privacy
    assert targets == PrivacyTargets(
        subject="patient_token",
        quasi_identifiers=("sexe", "classe_age", "departement", "mois"),
        k=5,
        on_violation="generalise",
        max_suppressed_share=0.1,
        sensitive=("analyse",),
        l=2,
        steps=(
            GeneraliseStep("mois", "quarter"),
            GeneraliseStep("mois", "year"),
            GeneraliseStep("classe_age", "10"),
            GeneraliseStep("departement", "region"),
            GeneraliseStep("classe_age", "20"),
            GeneraliseStep("mois", "suppressed"),
            GeneraliseStep("departement", "suppressed"),
            GeneraliseStep("classe_age", "suppressed"),
            GeneraliseStep("sexe", "suppressed"),
        ),
    )


def test_defaults_fail_with_a_five_percent_cap():
    targets = load_policy_text(policy(SUBJECT, QIS, "  k: 5"), "p.yaml").privacy
    assert targets.on_violation == "fail"
    assert targets.max_suppressed_share == 0.05
    assert (targets.sensitive, targets.l, targets.steps) == ((), None, ())


def test_a_policy_without_privacy_has_no_targets():
    assert load_policy_text(BASE.removesuffix("privacy:\n"), "p.yaml").privacy is None


def test_suppress_and_month_straight_to_year_load():
    text = policy(SUBJECT, QIS, "  k: 3", "  on_violation: suppress", "  max_suppressed_share: 1")
    assert load_policy_text(text, "p.yaml").privacy.on_violation == "suppress"
    text = policy(SUBJECT, QIS, "  k: 3", *generalise("{column: mois, to: year}"))
    assert load_policy_text(text, "p.yaml").privacy.steps == (GeneraliseStep("mois", "year"),)


def test_age_bands_may_widen_to_any_multiple_below_the_top():
    text = policy(
        SUBJECT,
        QIS,
        "  k: 3",
        *generalise('{column: classe_age, to: "15"}', '{column: classe_age, to: "30"}'),
    )
    steps = load_policy_text(text, "p.yaml").privacy.steps
    assert [step.to for step in steps] == ["15", "30"]


def test_the_shipped_policy_has_k_5_and_climbs_to_sex_only():
    targets = load_policy(shipped_policy_path("lab-export-v1")).privacy
    assert targets.subject == "patient_token"
    assert targets.k == 5
    assert targets.on_violation == "generalise"
    assert len(targets.steps) == 8
    assert {step.column for step in targets.steps if step.to == "suppressed"} == {
        "mois_prelevement",
        "departement_residence",
        "classe_age",
    }


# --- problems, each at its line ---------------------------------------------------------


def test_subject_must_be_published():
    line, code, message = one_problem(policy("  subject: ipp", QIS, "  k: 5"))
    assert (line, code) == (FIRST, "invalid-value")
    assert "privacy.subject" in message and "published" in message


def test_subject_is_required():
    assert one_problem(policy(QIS, "  k: 5"))[:2] == (FIRST, "missing-field")
    assert "privacy.subject" in one_problem(policy(QIS, "  k: 5"))[2]


def test_quasi_identifier_must_be_a_published_column():
    text = policy(SUBJECT, "  quasi_identifiers: [sexe, naissance]", "  k: 5")
    line, code, message = one_problem(text)
    assert (line, code) == (FIRST + 1, "invalid-value")
    assert "naissance" in message and "privacy.quasi_identifiers" in message


def test_quasi_identifier_listed_twice():
    line, code, message = one_problem(
        policy(SUBJECT, "  quasi_identifiers: [sexe, sexe]", "  k: 5")
    )
    assert (line, code) == (FIRST + 1, "invalid-value") and "more than once" in message


def test_the_subject_is_not_a_quasi_identifier():
    text = policy(SUBJECT, "  quasi_identifiers: [sexe, patient_token]", "  k: 5")
    line, code, message = one_problem(text)
    assert (line, code) == (FIRST + 1, "invalid-value") and "subject" in message


def test_quasi_identifiers_are_required_and_not_empty():
    assert one_problem(policy(SUBJECT, "  k: 5"))[:2] == (FIRST, "missing-field")
    line, code, message = one_problem(policy(SUBJECT, "  quasi_identifiers: []", "  k: 5"))
    assert (line, code) == (FIRST + 1, "invalid-value") and "at least one" in message


@pytest.mark.parametrize("value", ["1", "0", "1001", "-5", "2.5", '"5"', "five"])
def test_k_out_of_range_or_not_a_whole_number(value):
    line, code, message = one_problem(policy(SUBJECT, QIS, f"  k: {value}"))
    assert (line, code) == (FIRST + 2, "invalid-value")
    assert "privacy.k" in message


def test_k_is_required():
    line, code, message = one_problem(policy(SUBJECT, QIS))
    assert (line, code) == (FIRST, "missing-field") and "privacy.k" in message


def test_l_needs_sensitive_attributes():
    line, code, message = one_problem(policy(SUBJECT, QIS, "  k: 5", "  l: 2"))
    assert (line, code) == (FIRST + 3, "invalid-value")
    assert "privacy.l" in message and "sensitive" in message


@pytest.mark.parametrize("value", ["1", "101", "two"])
def test_l_out_of_range(value):
    text = policy(SUBJECT, QIS, "  k: 5", "  sensitive: [analyse]", f"  l: {value}")
    line, code, message = one_problem(text)
    assert (line, code) == (FIRST + 4, "invalid-value") and "privacy.l" in message


def test_sensitive_must_be_published():
    text = policy(SUBJECT, QIS, "  k: 5", "  sensitive: [commentaire]", "  l: 2")
    found = problems(text)
    assert (FIRST + 3, "invalid-value") in [(line, code) for line, code, _ in found]
    assert any("commentaire" in message for _, _, message in found)


@pytest.mark.parametrize("value", ["drop", "Fail", '""'])
def test_bad_on_violation(value):
    line, code, message = one_problem(policy(SUBJECT, QIS, "  k: 5", f"  on_violation: {value}"))
    assert (line, code) == (FIRST + 3, "invalid-value")
    assert "fail, suppress or generalise" in message


@pytest.mark.parametrize("value", ["1.5", "-0.1", "lots"])
def test_max_suppressed_share_is_a_share(value):
    text = policy(
        SUBJECT, QIS, "  k: 5", "  on_violation: suppress", f"  max_suppressed_share: {value}"
    )
    line, code, message = one_problem(text)
    assert (line, code) == (FIRST + 4, "invalid-value") and "max_suppressed_share" in message


def test_unknown_field_in_the_section():
    line, code, message = one_problem(policy(SUBJECT, QIS, "  k: 5", "  t: 0.2"))
    assert (line, code) == (FIRST + 3, "unknown-field") and "privacy.t" in message


def test_section_must_be_a_mapping():
    line, code, _ = one_problem(policy("  - subject"))
    assert (line, code) == (FIRST, "invalid-value")


# Steps start at line FIRST + 5 (subject, QIs, k, on_violation, generalise:).
STEP = FIRST + 5


@pytest.mark.parametrize(
    ("steps", "bad", "reason"),
    [
        (['{column: classe_age, to: "7"}'], 0, "multiple of 5"),
        (['{column: classe_age, to: "5"}'], 0, "multiple of 5"),
        (['{column: classe_age, to: "90"}'], 0, "below 90"),
        (["{column: classe_age, to: region}"], 0, "wider band width"),
        (['{column: classe_age, to: "10"}', '{column: classe_age, to: "10"}'], 1, "multiple of 10"),
        (['{column: classe_age, to: "10"}', '{column: classe_age, to: "15"}'], 1, "multiple of 10"),
        (["{column: departement, to: quarter}"], 0, "'region' or 'suppressed'"),
        (["{column: departement, to: region}", "{column: departement, to: region}"], 1, "region"),
        (["{column: mois, to: region}"], 0, "month -> quarter -> year"),
        (["{column: mois, to: year}", "{column: mois, to: quarter}"], 1, "quarter -> year"),
        (["{column: mois, to: year}", "{column: mois, to: year}"], 1, "quarter -> year"),
        (["{column: sexe, to: region}"], 0, "only be 'suppressed'"),
        (
            ["{column: mois, to: suppressed}", "{column: mois, to: year}"],
            1,
            "follows a suppression",
        ),
        (
            ["{column: departement, to: suppressed}", "{column: departement, to: suppressed}"],
            1,
            "follows a suppression",
        ),
        (
            ["{column: classe_age, to: suppressed}", '{column: classe_age, to: "10"}'],
            1,
            "follows a suppression",
        ),
    ],
)
def test_steps_must_climb_the_hierarchy(steps, bad, reason):
    text = policy(SUBJECT, QIS, "  k: 5", *generalise(*steps))
    line, code, message = one_problem(text)
    assert (line, code) == (STEP + bad, "invalid-value")
    assert reason in message
    column = steps[bad].split("column: ", 1)[1].split(",", 1)[0]
    assert f"'{column}.to'" in message


def test_a_step_names_a_quasi_identifier():
    text = policy(SUBJECT, QIS, "  k: 5", *generalise("{column: analyse, to: suppressed}"))
    line, code, message = one_problem(text)
    assert (line, code) == (STEP, "invalid-value") and "not a quasi-identifier" in message


def test_a_step_needs_column_and_to():
    found = problems(policy(SUBJECT, QIS, "  k: 5", *generalise("{column: mois}")))
    assert [(line, code) for line, code, _ in found] == [(STEP, "missing-field")]
    found = problems(policy(SUBJECT, QIS, "  k: 5", *generalise("{column: mois, to: year, x: 1}")))
    assert [(line, code) for line, code, _ in found] == [(STEP, "unknown-field")]


def test_generalise_steps_with_strategy_fail():
    text = policy(
        SUBJECT,
        QIS,
        "  k: 5",
        "  on_violation: fail",
        "  generalise:",
        "    - {column: mois, to: year}",
    )
    line, code, message = one_problem(text)
    assert (line, code) == (FIRST + 5, "invalid-value")
    assert "privacy.generalise" in message and "only used with on_violation: generalise" in message


def test_generalise_steps_with_the_default_strategy():
    text = policy(SUBJECT, QIS, "  k: 5", "  generalise:", "    - {column: mois, to: year}")
    assert one_problem(text)[:2] == (FIRST + 4, "invalid-value")


def test_strategy_generalise_needs_steps():
    line, code, message = one_problem(policy(SUBJECT, QIS, "  k: 5", "  on_violation: generalise"))
    assert (line, code) == (FIRST, "missing-field") and "privacy.generalise" in message
    text = policy(SUBJECT, QIS, "  k: 5", "  on_violation: generalise", "  generalise: []")
    line, code, message = one_problem(text)
    assert (line, code) == (FIRST + 4, "invalid-value") and "at least one step" in message


def test_every_problem_is_reported_at_once():
    text = policy(
        "  subject: ipp",
        "  quasi_identifiers: [sexe, naissance]",
        "  k: 1",
        "  l: 2",
        "  on_violation: generalise",
        "  generalise:",
        '    - {column: classe_age, to: "7"}',
    )
    found = [(line, code) for line, code, _ in problems(text)]
    assert found == [
        (FIRST, "invalid-value"),
        (FIRST + 1, "invalid-value"),
        (FIRST + 2, "invalid-value"),
        (FIRST + 3, "invalid-value"),
        (FIRST + 6, "invalid-value"),
    ]


def test_messages_quote_no_odd_text():
    text = policy(SUBJECT, "  quasi_identifiers: [sexe, 'x y<script>']", "  k: 5")
    line, _, message = one_problem(text)
    assert line == FIRST + 1
    assert "<script>" not in message and "<not shown>" in message


def test_sensitive_attributes_are_neither_subject_nor_quasi_identifiers():
    text = policy(SUBJECT, QIS, "  k: 5", "  sensitive: [sexe]", "  l: 2")
    line, code, message = one_problem(text)
    assert (line, code) == (FIRST + 3, "invalid-value")
    assert "quasi-identifier" in message
