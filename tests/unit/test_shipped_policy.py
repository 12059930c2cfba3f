"""The shipped reference policy applies lab-export-v1.md's default treatment exactly."""

from __future__ import annotations

import re

import pytest

from schemas.loader import SHIPPED_POLICIES, load_policy, shipped_policy_path
from schemas.model import (
    AgeBand,
    Departement,
    Drop,
    Generalise,
    InputFormat,
    Keep,
    Policy,
    Tokenise,
    YearMonth,
    action_name,
)

# The 37 columns of lab-export-v1.md, in its order, with their documented treatment.
DOCUMENTED: dict[str, str] = {
    "numero_dossier": "tokenise",
    "ipp_patient": "tokenise",
    "nir": "tokenise",
    "nom_naissance": "drop",
    "nom_usage": "drop",
    "prenoms": "drop",
    "sexe": "keep",
    "date_naissance": "generalise",
    "commune_naissance_insee": "drop",
    "adresse": "drop",
    "code_postal": "drop",
    "commune_residence_insee": "generalise",
    "ville": "drop",
    "telephone": "drop",
    "email": "drop",
    "code_caisse_amo": "drop",
    "mutuelle_nom": "drop",
    "mutuelle_numero_adherent": "drop",
    "medecin_prescripteur_nom": "drop",
    "medecin_prescripteur_rpps": "tokenise",
    "medecin_prescripteur_cp": "drop",
    "preleveur": "drop",
    "date_prelevement": "generalise",
    "date_validation": "drop",
    "laboratoire_finess": "keep",
    "code_analyse_local": "keep",
    "code_loinc": "keep",
    "libelle_analyse": "keep",
    "resultat_valeur": "keep",
    "resultat_unite": "keep",
    "valeurs_reference": "keep",
    "indicateur_anormal": "keep",
    "groupe_sanguin": "drop",
    "renseignements_cliniques": "drop",
    "commentaire_resultat": "drop",
    "identifiant_portail": "drop",
    "mot_de_passe_portail": "drop",
}

# Direct and indirect identifiers, free text and credentials: never published as is.
NEVER_KEPT = (
    "numero_dossier", "ipp_patient", "nir", "nom_naissance", "nom_usage", "prenoms",
    "adresse", "telephone", "email", "mutuelle_numero_adherent", "medecin_prescripteur_nom",
    "medecin_prescripteur_rpps", "preleveur", "renseignements_cliniques",
    "commentaire_resultat", "identifiant_portail", "mot_de_passe_portail",
    "date_naissance", "commune_naissance_insee", "code_postal", "commune_residence_insee",
    "ville", "medecin_prescripteur_cp", "date_prelevement", "date_validation",
    "groupe_sanguin",
)  # fmt: skip

EXPECTED_OUTPUTS = (
    "dossier_token",
    "patient_token",
    "nir_token",
    "prescripteur_token",
    "sexe",
    "classe_age",
    "departement_residence",
    "mois_prelevement",
    "nir_invalide",
    "laboratoire_finess",
    "code_analyse_local",
    "code_loinc",
    "libelle_analyse",
    "resultat_valeur",
    "resultat_unite",
    "valeurs_reference",
    "indicateur_anormal",
)


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(shipped_policy_path("lab-export-v1"))


def test_it_is_listed_as_shipped() -> None:
    assert "lab-export-v1" in SHIPPED_POLICIES


def test_every_documented_column_once_with_its_action(policy: Policy) -> None:
    assert len(DOCUMENTED) == 37
    assert sorted(policy.column_names) == sorted(DOCUMENTED)
    assert len(policy.column_names) == len(set(policy.column_names))
    for rule in policy.columns:
        assert action_name(rule.action) == DOCUMENTED[rule.name], rule.name


def test_tokens_and_generalisations_are_as_documented(policy: Policy) -> None:
    actions = {rule.name: rule.action for rule in policy.columns}
    assert actions["numero_dossier"] == Tokenise("dossier_token", "exact", "dossier")
    assert actions["ipp_patient"] == Tokenise("patient_token", "exact", "patient")
    assert actions["nir"] == Tokenise("nir_token", "nir", "patient", "null", "nir_invalide")
    assert actions["medecin_prescripteur_rpps"] == Tokenise(
        "prescripteur_token", "digits", "prescripteur"
    )
    assert actions["date_naissance"] == Generalise("classe_age", AgeBand("date_prelevement", 5, 90))
    assert actions["commune_residence_insee"] == Generalise("departement_residence", Departement())
    assert actions["date_prelevement"] == Generalise("mois_prelevement", YearMonth())
    assert actions["date_validation"] == Drop()
    assert actions["sexe"] == Keep("sexe")


def test_types(policy: Policy) -> None:
    types = {rule.name: rule.type for rule in policy.columns}
    assert types.pop("date_naissance") == "date"
    assert types.pop("date_prelevement") == "datetime"
    assert types.pop("date_validation") == "datetime"
    assert set(types.values()) == {"string"}


def test_no_identifier_or_credential_is_published(policy: Policy) -> None:
    for name in NEVER_KEPT:
        assert not isinstance(policy.rule(name).action, Keep), name
    assert not set(NEVER_KEPT) & set(policy.outputs)
    assert not any("portail" in output or "nom" in output for output in policy.outputs)


def test_outputs_in_documented_order(policy: Policy) -> None:
    assert policy.outputs == EXPECTED_OUTPUTS


def test_input_format_is_the_reference_export(policy: Policy) -> None:
    assert policy.input == InputFormat(";", "utf-8", "%d/%m/%Y", "%d/%m/%Y %H:%M", ",")


def test_each_column_has_a_comment_saying_why() -> None:
    lines = shipped_policy_path("lab-export-v1").read_text(encoding="utf-8").splitlines()
    entries = [i for i, line in enumerate(lines) if re.match(r"\s+- (\{)?name: ", line)]
    assert len(entries) == 37
    for index in entries:
        comment_above = lines[index - 1].strip().startswith("#")
        assert "  # " in lines[index] or comment_above, lines[index]
