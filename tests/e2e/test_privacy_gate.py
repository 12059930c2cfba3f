"""The privacy gate end to end: the CLI in a subprocess, its output checked from outside.

Each published data set is recomputed independently (pandas on data/*.parquet, pycanon
on the same rows, the input CSV through the rejected rows' provenance) and compared
with report.json. CLI runs are shared by module-scoped fixtures to keep this quick.
"""

from __future__ import annotations

import json
from collections import Counter
from datetime import datetime
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from pycanon import anonymity

from schemas.loader import shipped_policy_path
from tests.e2e.conftest import CANARY_ROW, pseudolab, write_export
from tests.e2e.conftest import run_export as run

pytestmark = pytest.mark.slow

SHIPPED_QIS = ["sexe", "classe_age", "departement_residence", "mois_prelevement"]
SUBJECT = "patient_token"
NULL = "<null>"  # placeholder for null quasi-identifiers: pandas and pycanon drop NaN groups
MULTI_PROCESS = ("--", "--direct_running_mode=multi_processing", "--direct_num_workers=2")

# One patient of sex "I" (valid in the reference format) who stands out at every level.
LONE_PATIENT = [
    dict(
        CANARY_ROW,
        numero_dossier=f"DLONE-{n}",
        ipp_patient="PLONE0001",
        nir="",
        sexe="I",
        date_prelevement=f"0{n}/03/2021 08:12",
    )
    for n in (1, 2, 3)
]


def policy_with_privacy(directory: Path, name: str, section: str) -> Path:
    """The shipped policy with its privacy section replaced by `section`."""
    text = shipped_policy_path("lab-export-v1").read_text(encoding="utf-8")
    path = directory / f"{name}.yaml"
    path.write_text(text.split("\nprivacy:")[0] + "\nprivacy:\n" + section, encoding="utf-8")
    return path


class Run:
    """A finished run's output directory, read back."""

    def __init__(self, output: Path, export: Path):
        self.output = output
        self.export = export
        self.report = json.loads((output / "report.json").read_text())
        self.privacy = self.report["privacy"]
        self.table = pq.read_table(output / "data")
        self.data = self.table.to_pandas()
        self.rejected = pq.read_table(output / "rejected").to_pandas()


def finished(export: Path, output: Path, keyring: Path, *extra: str, policy="lab-export-v1"):
    result = run(export, output, keyring, *extra, policy=policy)
    assert result.code == 0, result.stderr[-3000:]
    return Run(output, export)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("privacy-gate")


@pytest.fixture(scope="module")
def keys(workdir) -> Path:
    path = workdir / "keys" / "keyring.json"
    assert pseudolab("keygen", "--output", str(path)).code == 0
    return path


@pytest.fixture(scope="module")
def large_export(workdir) -> Path:
    return write_export(workdir / "large.csv", 4000, [], seed=2024)


@pytest.fixture(scope="module")
def small_export(workdir) -> Path:
    return write_export(workdir / "small.csv", 600, LONE_PATIENT, seed=31)


@pytest.fixture(scope="module")
def large_run(workdir, keys, large_export) -> Run:
    return finished(large_export, workdir / "out-large", keys)


@pytest.fixture(scope="module")
def small_run(workdir, keys, small_export) -> Run:
    return finished(small_export, workdir / "out-small", keys)


# --- independent recomputation ---------------------------------------------------------


def filled(data: pd.DataFrame, qis: list[str]) -> pd.DataFrame:
    """The rows with null quasi-identifiers as a placeholder string."""
    out = data.copy()
    for name in qis:
        out[name] = out[name].astype(object).where(out[name].notna(), NULL)
    return out


def class_subjects(data: pd.DataFrame, qis: list[str]) -> pd.Series:
    """Distinct subjects per class (pandas' nunique ignores null subjects)."""
    return filled(data, qis).groupby(qis)[SUBJECT].nunique()


def check_against_report(result: Run) -> None:
    privacy, report, data = result.privacy, result.report, result.data
    qis = privacy["quasi_identifiers"]
    assert privacy["subject"] == SUBJECT
    assert len(data) == report["rows_out"] > 0
    assert report["rows_in"] == report["rows_out"] + report["rows_rejected"]

    sizes = class_subjects(data, qis)
    assert sizes.min() >= privacy["k_target"]
    assert sizes.min() == privacy["k_achieved"]
    assert len(sizes) == privacy["classes"]["after"]
    distribution = {int(size): count for size, count in privacy["class_sizes"]["after"].items()}
    assert dict(Counter(sizes.tolist())) == distribution

    per_row = filled(data, qis).groupby(qis)[SUBJECT].transform("nunique")
    risk = privacy["prosecutor_risk"]
    assert risk["max"] == pytest.approx(1 / sizes.min(), abs=1e-6)
    assert risk["average"] == pytest.approx((1 / per_row).mean(), abs=1e-6)
    assert privacy["unique_subjects_share"]["after"] == 0.0

    # pycanon counts rows per class: one row per (subject, class) makes it count subjects.
    people = filled(data, qis)[[SUBJECT, *qis]].dropna(subset=[SUBJECT])
    people = people.drop_duplicates().reset_index(drop=True)
    assert anonymity.k_anonymity(people, qis) == privacy["k_achieved"]

    rejected = result.rejected
    suppressed = rejected[rejected["reason"] == "k-anonymity"]
    assert report["rejected_by_reason"].get("k-anonymity", 0) == privacy["rows_suppressed"]
    assert len(suppressed) == privacy["rows_suppressed"]
    assert suppressed["column"].isna().all()
    assert set(suppressed["source_file"]) <= {str(result.export)}

    # Subjects suppressed: the input's patients behind the suppressed rows' provenance.
    source = read_export(result.export)
    patients = source.loc[suppressed["source_row"] - 1, "ipp_patient"]
    assert patients.nunique() == privacy["subjects_suppressed"]
    assert privacy["subjects"] == source.drop(other_rejections(result) - 1)["ipp_patient"].nunique()
    expected_share = round(privacy["subjects_suppressed"] / privacy["subjects"], 6)
    assert privacy["subjects_suppressed_share"] == expected_share
    assert privacy["subjects_suppressed_share"] <= privacy["max_suppressed_share"]


def read_export(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, sep=";", dtype=str, keep_default_na=False, encoding="utf-8")


def other_rejections(result: Run) -> pd.Index:
    """source_row of rows rejected for input problems, not privacy."""
    rejected = result.rejected
    return pd.Index(rejected.loc[rejected["reason"] != "k-anonymity", "source_row"])


# --- (1) the shipped policy, checked from outside ----------------------------------------


@pytest.mark.parametrize("which", ["large_run", "small_run"])
def test_published_data_meets_k_and_matches_the_report(request, which):
    result: Run = request.getfixturevalue(which)
    assert result.privacy["quasi_identifiers"] == SHIPPED_QIS
    assert result.privacy["k_target"] == 5
    assert result.privacy["rows_suppressed"] > 0  # suppression bites on these exports
    check_against_report(result)


def test_levels_and_steps_are_reported(large_run, small_run):
    shipped = [
        {"column": "mois_prelevement", "to": "quarter"},
        {"column": "mois_prelevement", "to": "year"},
        {"column": "classe_age", "to": "10"},
        {"column": "departement_residence", "to": "region"},
        {"column": "classe_age", "to": "20"},
        {"column": "mois_prelevement", "to": "suppressed"},
        {"column": "departement_residence", "to": "suppressed"},
        {"column": "classe_age", "to": "suppressed"},
    ]
    for result in (large_run, small_run):
        privacy = result.privacy
        assert privacy["strategy"] == "generalise"
        assert privacy["steps_applied"] == shipped[: privacy["level"]]
        # Before any step, nearly everyone is unique on four quasi-identifiers.
        assert privacy["k_before"] == 1
        assert privacy["unique_subjects_share"]["before"] > 0.5
        sizes_before = {int(s): n for s, n in privacy["class_sizes"]["before"].items()}
        assert sum(sizes_before.values()) == privacy["classes"]["before"]
    # The lone patient of sex I is the one suppressed in the small export.
    assert small_run.privacy["subjects_suppressed"] == 1
    assert set(small_run.data["sexe"]) == {"F", "M"}


def test_unique_share_before_matches_an_ungated_recount(large_run):
    """Level 0 classes recomputed from the input for the share of unique subjects."""
    source = read_export(large_run.export).drop(other_rejections(large_run) - 1)
    classes = pd.DataFrame(
        {
            "ipp": source["ipp_patient"],
            "sexe": source["sexe"],
            "age": [
                age_band(b, s)
                for b, s in zip(source["date_naissance"], source["date_prelevement"], strict=True)
            ],
            "month": [f"{s[6:10]}-{s[3:5]}" for s in source["date_prelevement"]],
            "place": source["commune_residence_insee"].map(departement),
        }
    )
    keys = ["sexe", "age", "place", "month"]
    sizes = classes.groupby(keys)["ipp"].transform("nunique")
    unique = classes.loc[sizes == 1, "ipp"].nunique() / classes["ipp"].nunique()
    privacy = large_run.privacy
    assert privacy["unique_subjects_share"]["before"] == pytest.approx(unique, abs=1e-6)
    assert privacy["classes"]["before"] == classes.groupby(keys).ngroups


# --- (2) fail: exit 4, nothing published ---------------------------------------------------

FAIL_SECTION = """\
  subject: patient_token
  quasi_identifiers: [sexe, classe_age, departement_residence, mois_prelevement]
  k: 5
  on_violation: fail
"""


def test_fail_policy_below_k_exits_4_and_publishes_nothing(workdir, keys, small_export):
    policy = policy_with_privacy(workdir, "fail", FAIL_SECTION)
    output = workdir / "out-fail"
    result = run(small_export, output, keys, policy=str(policy))
    assert result.code == 4, result.stderr[-2000:]
    assert "privacy gate" in result.stderr and "nothing published" in result.stderr
    assert not output.exists()
    assert not [p for p in workdir.iterdir() if "pseudolab-staging" in p.name]
    assert len(result.stderr.strip().splitlines()) == 1


# --- (3) suppress: rows of classes under k go to rejected/ -------------------------------

SUPPRESS_SECTION = """\
  subject: patient_token
  quasi_identifiers: [sexe, classe_age]
  k: 3
  on_violation: suppress
  max_suppressed_share: 0.9
"""


def age_band(birth: str, sampled: str) -> str:
    born = datetime.strptime(birth, "%d/%m/%Y")
    seen = datetime.strptime(sampled, "%d/%m/%Y %H:%M")
    age = seen.year - born.year - ((seen.month, seen.day) < (born.month, born.day))
    return "90+" if age >= 90 else f"{age // 5 * 5}-{age // 5 * 5 + 4}"


def departement(commune: str) -> str | None:
    if len(commune) != 5:
        return None
    return commune[:3] if commune.startswith("97") else commune[:2]


@pytest.fixture(scope="module")
def suppress_run(workdir, keys, large_export) -> Run:
    policy = policy_with_privacy(workdir, "suppress", SUPPRESS_SECTION)
    return finished(large_export, workdir / "out-suppress", keys, policy=str(policy))


def test_suppress_sends_classes_under_k_to_rejected(suppress_run):
    privacy = suppress_run.privacy
    assert privacy["strategy"] == "suppress" and privacy["level"] == 0
    assert privacy["rows_suppressed"] > 0
    check_against_report(suppress_run)

    # The suppressed rows' classes, recomputed from the input through their provenance.
    source = read_export(suppress_run.export)
    kept = source.drop(other_rejections(suppress_run) - 1)
    kept = kept.assign(
        classe_age=[
            age_band(b, s)
            for b, s in zip(kept["date_naissance"], kept["date_prelevement"], strict=True)
        ]
    )
    sizes = kept.groupby(["sexe", "classe_age"])["ipp_patient"].nunique()
    rejected = suppress_run.rejected
    rows = rejected.loc[rejected["reason"] == "k-anonymity", "source_row"]
    suppressed = kept.loc[rows - 1]
    suppressed_classes = set(zip(suppressed["sexe"], suppressed["classe_age"], strict=True))
    published = set(zip(suppress_run.data["sexe"], suppress_run.data["classe_age"], strict=True))
    assert suppressed_classes and not suppressed_classes & published
    assert all(sizes[c] < 3 for c in suppressed_classes)
    assert all(sizes[c] >= 3 for c in published)
    assert set(sizes.index) == suppressed_classes | published
    # Every row of a published class is published, every row of a suppressed one is not.
    in_classes = kept.groupby(["sexe", "classe_age"]).size()
    out_classes = suppress_run.data.groupby(["sexe", "classe_age"]).size()
    assert out_classes.to_dict() == {c: in_classes[c] for c in published}


# --- (4) l-diversity -----------------------------------------------------------------------

L_SECTION = (
    shipped_policy_path("lab-export-v1")
    .read_text(encoding="utf-8")
    .split("\nprivacy:\n")[1]
    .replace("  k: 5\n", "  k: 5\n  sensitive: [libelle_analyse]\n  l: 2\n")
)


def test_l_diversity_is_met_and_recomputed(workdir, keys, small_export):
    policy = policy_with_privacy(workdir, "ldiv", L_SECTION)
    result = finished(small_export, workdir / "out-ldiv", keys, policy=str(policy))
    privacy = result.privacy
    assert privacy["l_target"] == 2 and privacy["sensitive"] == ["libelle_analyse"]
    check_against_report(result)
    qis = privacy["quasi_identifiers"]
    rows = filled(result.data, qis)
    per_class = rows.groupby(qis)["libelle_analyse"].nunique()
    assert per_class.min() >= 2
    assert privacy["l_achieved"] == {"libelle_analyse": int(per_class.min())}
    with_values = rows.dropna(subset=["libelle_analyse"]).reset_index(drop=True)
    assert anonymity.l_diversity(with_values, qis, ["libelle_analyse"]) == per_class.min()


# --- (5) same answer in memory and on two processes -------------------------------------------


def sorted_rows(result: Run) -> pd.DataFrame:
    data = result.data.astype(object).where(result.data.notna(), None)
    return data.sort_values(list(data.columns), key=lambda c: c.astype(str)).reset_index(drop=True)


def test_in_memory_and_multi_process_runs_agree(workdir, keys, large_export, large_run):
    multi = finished(large_export, workdir / "out-multi", keys, *MULTI_PROCESS)
    assert multi.privacy == large_run.privacy
    assert multi.privacy["rows_suppressed"] > 0
    pd.testing.assert_frame_equal(sorted_rows(multi), sorted_rows(large_run))
    suppressed = sorted(
        multi.rejected.loc[multi.rejected["reason"] == "k-anonymity", "source_row"].tolist()
    )
    assert suppressed == sorted(
        large_run.rejected.loc[large_run.rejected["reason"] == "k-anonymity", "source_row"]
    )
