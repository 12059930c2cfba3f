"""The `privacy:` section of a policy: subject, quasi-identifiers, targets, strategy.

```yaml
privacy:
  subject: patient_token
  quasi_identifiers: [sexe, classe_age, departement_residence, mois_prelevement]
  k: 5
  sensitive: [libelle_analyse]     # optional, with l
  l: 2
  on_violation: generalise         # fail | suppress | generalise
  max_suppressed_share: 0.05       # of subjects; above it the run fails (exit 4)
  generalise:                      # tried in order, each on top of the previous
    - {column: mois_prelevement, to: quarter}
    - {column: classe_age, to: "10"}
    - {column: departement_residence, to: region}
```
"""

from __future__ import annotations

from yaml.nodes import Node, SequenceNode

from schemas.model import (
    SUPPRESSED,
    VIOLATION_STRATEGIES,
    AgeBand,
    ColumnRule,
    Departement,
    GeneraliseStep,
    PrivacyTargets,
    YearMonth,
    producing_operation,
)
from schemas.yaml_nodes import Problems, mapping, sequence, text, word

PRIVACY_FIELDS = (
    "subject",
    "quasi_identifiers",
    "k",
    "sensitive",
    "l",
    "on_violation",
    "max_suppressed_share",
    "generalise",
)


def _names(
    node: Node | None, problems: Problems, field: str, outputs: tuple[str, ...]
) -> tuple[str, ...]:
    items = sequence(node, problems, field) or []
    names: list[str] = []
    for item in items:
        name = text(item, problems, field)
        if name is None:
            continue
        if name not in outputs:
            problems.invalid(item, field, f"names '{word(name)}', which is not a published column")
        elif name in names:
            problems.invalid(item, field, f"lists '{word(name)}' more than once")
        else:
            names.append(name)
    return tuple(names)


def _step_problem(
    operation: object, to: str, current: dict[str, object], column: str
) -> str | None:
    """Why a step to `to` is not a climb of `column`'s hierarchy, or None."""
    previous = current.get(column)
    if previous == SUPPRESSED:
        return "follows a suppression of the same column"
    if to == SUPPRESSED:
        return None
    if isinstance(operation, AgeBand):
        if not to.isdigit():
            return "must be a wider band width (e.g. '10') or 'suppressed'"
        width, base = int(to), int(previous) if isinstance(previous, int) else operation.width
        if width <= base or width % base or width >= operation.top:
            return f"must be a multiple of {base} wider than it and below {operation.top}"
        return None
    if isinstance(operation, Departement):
        return None if to == "region" and previous is None else "must be 'region' or 'suppressed'"
    if isinstance(operation, YearMonth):
        order = {None: ("quarter", "year"), "quarter": ("year",)}
        allowed = order.get(previous, ())  # type: ignore[arg-type]
        return None if to in allowed else "must climb month -> quarter -> year or 'suppressed'"
    return "can only be 'suppressed' for this column"


def _steps(
    node: Node | None,
    problems: Problems,
    rules: tuple[ColumnRule, ...],
    quasi_identifiers: tuple[str, ...],
) -> tuple[GeneraliseStep, ...]:
    items = sequence(node, problems, "privacy.generalise") or []
    steps: list[GeneraliseStep] = []
    current: dict[str, object] = {}
    for item in items:
        fields = mapping(item, problems, "privacy.generalise")
        if fields is None:
            continue
        fields.reject_unknown(("column", "to"))
        column = fields.text("column", required=True)
        to_node = fields.require("to")
        to = None if to_node is None else (getattr(to_node, "value", None) or None)
        if column is None or to is None:
            continue
        if column not in quasi_identifiers:
            problems.invalid(
                item, "privacy.generalise", f"'{word(column)}' is not a quasi-identifier"
            )
            continue
        reason = _step_problem(producing_operation(rules, column), str(to), current, column)
        if reason:
            problems.invalid(to_node, f"{word(column)}.to", reason)
            continue
        current[column] = SUPPRESSED if to == SUPPRESSED else (int(to) if str(to).isdigit() else to)
        steps.append(GeneraliseStep(column, str(to)))
    return tuple(steps)


def privacy_targets(
    node: Node | None,
    problems: Problems,
    rules: tuple[ColumnRule, ...],
    outputs: tuple[str, ...],
) -> PrivacyTargets | None:
    fields = mapping(node, problems, "privacy")
    if fields is None:
        return None
    fields.reject_unknown(PRIVACY_FIELDS)
    subject = fields.text("subject", required=True)
    if subject is not None and subject not in outputs:
        problems.invalid(fields.get("subject"), "privacy.subject", "must be a published column")
    qi_node = fields.require("quasi_identifiers")
    quasi = _names(qi_node, problems, "privacy.quasi_identifiers", outputs)
    if qi_node is not None and not quasi:
        problems.invalid(qi_node, "privacy.quasi_identifiers", "must list at least one column")
    if subject in quasi:
        problems.invalid(qi_node, "privacy.quasi_identifiers", "must not hold the subject")
    sensitive = _names(fields.get("sensitive"), problems, "privacy.sensitive", outputs)
    if set(sensitive) & {*quasi, subject}:
        problems.invalid(
            fields.get("sensitive"),
            "privacy.sensitive",
            "must not hold the subject or a quasi-identifier",
        )
    k = fields.integer("k", 2, 1000, None)
    l_value = fields.integer("l", 2, 100, 0) or None
    if l_value and not sensitive:
        problems.invalid(fields.get("l"), "privacy.l", "needs privacy.sensitive attributes")
    strategy = fields.text("on_violation")
    if strategy is None:  # absent, or not text (reported)
        strategy = "fail"
    elif strategy not in VIOLATION_STRATEGIES:
        problems.invalid(
            fields.get("on_violation"),
            "privacy.on_violation",
            "must be fail, suppress or generalise",
        )
        strategy = "fail"
    share = fields.number("max_suppressed_share", positive=False, required=False)
    if share is not None and not 0 <= share <= 1:
        problems.invalid(
            fields.get("max_suppressed_share"),
            "privacy.max_suppressed_share",
            "must be between 0 and 1",
        )
    steps_node = fields.get("generalise")
    steps = _steps(steps_node, problems, rules, quasi) if steps_node is not None else ()
    if strategy == "generalise" and steps_node is None:
        problems.add(fields.line, "missing-field", field="privacy.generalise")
    elif strategy == "generalise" and isinstance(steps_node, SequenceNode) and not steps_node.value:
        problems.invalid(steps_node, "privacy.generalise", "must list at least one step")
    if strategy != "generalise" and steps_node is not None:
        problems.invalid(
            steps_node, "privacy.generalise", "is only used with on_violation: generalise"
        )
    if subject is None or k is None or not quasi:
        return None
    return PrivacyTargets(
        subject=subject,
        quasi_identifiers=quasi,
        k=k,
        on_violation=strategy,  # type: ignore[arg-type]
        max_suppressed_share=0.05 if share is None else share,
        sensitive=sensitive,
        l=l_value,
        steps=steps,
    )
