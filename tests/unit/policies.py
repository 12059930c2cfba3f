"""Small policies built in code for tests that must not depend on the YAML loader."""

from schemas.model import (
    AgeBand,
    ColumnRule,
    Departement,
    Drop,
    Generalise,
    InputFormat,
    Keep,
    Policy,
    Tokenise,
    YearMonth,
)


def small_policy(on_invalid: str = "null") -> Policy:
    rules = (
        ColumnRule("ipp", "string", Tokenise("patient_token", "exact", "patient"), 2),
        ColumnRule(
            "nir",
            "string",
            Tokenise("nir_token", "nir", "patient", on_invalid, "nir_invalide"),
            3,
        ),
        ColumnRule("nom", "string", Drop(), 4),
        ColumnRule("naissance", "date", Generalise("classe_age", AgeBand("prelevement")), 5),
        ColumnRule("commune", "string", Generalise("departement", Departement()), 6),
        ColumnRule("prelevement", "datetime", Generalise("mois", YearMonth()), 7),
        ColumnRule("valeur", "number", Keep("valeur"), 8),
    )
    outputs = (
        "patient_token",
        "nir_token",
        "classe_age",
        "departement",
        "mois",
        "nir_invalide",
        "valeur",
    )
    return Policy("small", "1", "small.yaml", "0" * 64, InputFormat(), rules, outputs)
