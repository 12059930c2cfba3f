"""Départements to régions (the 18 régions since 2016), for generalising a département."""

from __future__ import annotations

_REGIONS: dict[str, tuple[str, ...]] = {
    "Île-de-France": ("75", "77", "78", "91", "92", "93", "94", "95"),
    "Centre-Val de Loire": ("18", "28", "36", "37", "41", "45"),
    "Bourgogne-Franche-Comté": ("21", "25", "39", "58", "70", "71", "89", "90"),
    "Normandie": ("14", "27", "50", "61", "76"),
    "Hauts-de-France": ("02", "59", "60", "62", "80"),
    "Grand Est": ("08", "10", "51", "52", "54", "55", "57", "67", "68", "88"),
    "Pays de la Loire": ("44", "49", "53", "72", "85"),
    "Bretagne": ("22", "29", "35", "56"),
    "Nouvelle-Aquitaine": (
        "16",
        "17",
        "19",
        "23",
        "24",
        "33",
        "40",
        "47",
        "64",
        "79",
        "86",
        "87",
    ),
    "Occitanie": (
        "09",
        "11",
        "12",
        "30",
        "31",
        "32",
        "34",
        "46",
        "48",
        "65",
        "66",
        "81",
        "82",
    ),
    "Auvergne-Rhône-Alpes": (
        "01",
        "03",
        "07",
        "15",
        "26",
        "38",
        "42",
        "43",
        "63",
        "69",
        "73",
        "74",
    ),
    "Provence-Alpes-Côte d'Azur": ("04", "05", "06", "13", "83", "84"),
    "Corse": ("2A", "2B"),
    "Guadeloupe": ("971",),
    "Martinique": ("972",),
    "Guyane": ("973",),
    "La Réunion": ("974",),
    "Mayotte": ("976",),
}

# Overseas collectivities (975, 977, 978, 98x) and 99 (abroad) share one group.
OTHER = "Collectivités d'outre-mer et étranger"

DEPARTEMENT_TO_REGION: dict[str, str] = {
    departement: region for region, members in _REGIONS.items() for departement in members
}


def region_of(departement: str) -> str:
    return DEPARTEMENT_TO_REGION.get(departement, OTHER)
