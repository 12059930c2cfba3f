"""A small policy with privacy targets, built in code (no YAML loader) for the gate's tests."""

from __future__ import annotations

import dataclasses

import pyarrow as pa

from schemas.model import GeneraliseStep, Policy, PrivacyTargets
from tests.unit.policies import small_policy

QIS = ("classe_age", "departement", "mois")

# Level 1: month -> quarter, 2: 5 -> 10-year bands, 3: département -> région,
# 4: quarter -> year, 5: no month.
STEPS = (
    GeneraliseStep("mois", "quarter"),
    GeneraliseStep("classe_age", "10"),
    GeneraliseStep("departement", "region"),
    GeneraliseStep("mois", "year"),
    GeneraliseStep("mois", "suppressed"),
)


def targets(**changes) -> PrivacyTargets:
    base = PrivacyTargets(
        subject="patient_token",
        quasi_identifiers=QIS,
        k=2,
        on_violation="generalise",
        max_suppressed_share=0.5,
        steps=STEPS,
    )
    return dataclasses.replace(base, **changes)


def privacy_policy(**changes) -> Policy:
    """small_policy() (age band 5 years, top 90) with privacy targets."""
    return dataclasses.replace(small_policy(), privacy=targets(**changes))


def table(rows: list[tuple], sensitive: list | None = None) -> pa.Table:
    """(patient, classe_age, departement, mois) rows; `sensitive` fills `valeur`."""
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    names = ("patient_token", *QIS)
    data = {
        name: pa.array(list(values), pa.string())
        for name, values in zip(names, columns, strict=True)
    }
    if sensitive is not None:
        data["valeur"] = pa.array(sensitive, pa.float64())
    return pa.table(data)
