"""Départements to the 18 régions since 2016."""

from __future__ import annotations

import pytest

from transforms.privacy.regions import DEPARTEMENT_TO_REGION, OTHER, region_of

METROPOLE = [f"{number:02d}" for number in range(1, 96) if number != 20] + ["2A", "2B"]
OVERSEAS = ["971", "972", "973", "974", "976"]


def test_every_departement_has_a_region():
    missing = [d for d in METROPOLE + OVERSEAS if d not in DEPARTEMENT_TO_REGION]
    assert missing == []
    assert set(DEPARTEMENT_TO_REGION) == set(METROPOLE + OVERSEAS)
    assert all(region_of(d) != OTHER for d in METROPOLE + OVERSEAS)


def test_there_are_18_regions():
    assert len(set(DEPARTEMENT_TO_REGION.values())) == 18
    assert OTHER not in DEPARTEMENT_TO_REGION.values()


@pytest.mark.parametrize(
    ("departement", "region"),
    [
        ("75", "Île-de-France"),
        ("56", "Bretagne"),
        ("29", "Bretagne"),
        ("2A", "Corse"),
        ("2B", "Corse"),
        ("13", "Provence-Alpes-Côte d'Azur"),
        ("69", "Auvergne-Rhône-Alpes"),
        ("67", "Grand Est"),
        ("33", "Nouvelle-Aquitaine"),
        ("31", "Occitanie"),
        ("59", "Hauts-de-France"),
        ("76", "Normandie"),
        ("44", "Pays de la Loire"),
        ("45", "Centre-Val de Loire"),
        ("21", "Bourgogne-Franche-Comté"),
        ("971", "Guadeloupe"),
        ("972", "Martinique"),
        ("973", "Guyane"),
        ("974", "La Réunion"),
        ("976", "Mayotte"),
    ],
)
def test_known_regions(departement, region):
    assert region_of(departement) == region


@pytest.mark.parametrize("code", ["20", "975", "977", "978", "986", "99", "00", ""])
def test_other_codes_share_one_group(code):
    assert region_of(code) == OTHER


def test_departements_per_region():
    sizes: dict[str, int] = {}
    for region in DEPARTEMENT_TO_REGION.values():
        sizes[region] = sizes.get(region, 0) + 1
    assert sizes["Île-de-France"] == 8
    assert sizes["Grand Est"] == 10
    assert sizes["Nouvelle-Aquitaine"] == 12
    assert sizes["Occitanie"] == 13
    assert sizes["Auvergne-Rhône-Alpes"] == 12
    assert sizes["Corse"] == 2
    assert sum(sizes.values()) == 101
