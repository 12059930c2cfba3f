"""Synthetic lab exports in the reference format (`lab-export-v1.md`), realistic and seeded.

`write_sample` streams a denormalised export, one row per result, to a CSV file: `;`
separator, header row, dates `dd/mm/yyyy`, date-times `dd/mm/yyyy HH:MM`, decimal
comma, empty field = null, `\\n` line endings, quoting only where needed (free text
holds `;`, double quotes and newlines). The same seed gives a byte-identical file.

Everything is made up: patients are drawn from pools of French names and real INSEE
communes; NIRs are built from sex, birth year, month and birthplace with a correct
key; telephone numbers come from the ranges reserved for fiction and e-mail addresses
use example domains.

Deliberately invalid rows, counted in the `SampleSummary`:
- `invalid_nir`: at most 0.5% of the rows (about 0.4-0.5% from a few thousand rows
  on) print their patient's NIR with a wrong key (always 15 characters once cleaned);
- `invalid_dates`: about 0.05% of the rows hold one impossible date (`31/02/1984`,
  `29/02/2023`, `15/13/1990`, `00/03/2001` ...) in `date_naissance` or, with the
  time kept, in `date_prelevement`. All other rows hold valid dates, birth <= sampling
  < validation.

Columns that can be empty: nir, nom_usage, adresse, telephone, email, code_caisse_amo,
mutuelle_nom and mutuelle_numero_adherent, the three medecin_prescripteur_* together,
preleveur, resultat_unite, valeurs_reference, indicateur_anormal (blood group rows),
groupe_sanguin, renseignements_cliniques, commentaire_resultat, and the two portal
columns together. The others are always filled.

Generation is streamed in chunks of a few thousand rows: memory does not grow with
the row count. Only the standard library is used, with `transforms.nir.nir_key`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import math
import random
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from transforms.nir import nir_key

__all__ = ["COLUMNS", "SampleSummary", "write_sample"]

COLUMNS: tuple[str, ...] = (
    "numero_dossier",
    "ipp_patient",
    "nir",
    "nom_naissance",
    "nom_usage",
    "prenoms",
    "sexe",
    "date_naissance",
    "commune_naissance_insee",
    "adresse",
    "code_postal",
    "commune_residence_insee",
    "ville",
    "telephone",
    "email",
    "code_caisse_amo",
    "mutuelle_nom",
    "mutuelle_numero_adherent",
    "medecin_prescripteur_nom",
    "medecin_prescripteur_rpps",
    "medecin_prescripteur_cp",
    "preleveur",
    "date_prelevement",
    "date_validation",
    "laboratoire_finess",
    "code_analyse_local",
    "code_loinc",
    "libelle_analyse",
    "resultat_valeur",
    "resultat_unite",
    "valeurs_reference",
    "indicateur_anormal",
    "groupe_sanguin",
    "renseignements_cliniques",
    "commentaire_resultat",
    "identifiant_portail",
    "mot_de_passe_portail",
)

# Row positions used after a row is built (see COLUMNS).
_BIRTH, _SAMPLED, _VALIDATED = 7, 22, 23

INVALID_NIR_SHARE = 0.005  # upper bound on the share of rows whose NIR key is wrong
INVALID_DATE_SHARE = 0.0005  # probability that a row holds one impossible date

_FIRST_DAY = dt.date(2021, 1, 4).toordinal()
_LAST_DAY = dt.date(2026, 10, 31).toordinal()  # fixed: the output never depends on today
_COVID_ERA_END = dt.date(2023, 1, 1).toordinal()
_CHUNK_ROWS = 8192


@dataclass(frozen=True)
class SampleSummary:
    """What a generated sample holds: row, patient and request counts, invalid rows."""

    rows: int
    patients: int
    requests: int
    invalid_nir: int  # rows whose NIR is present but has a wrong key
    invalid_dates: int  # rows with one impossible date


# ---------------------------------------------------------------------------------------
# Reference pools. Weights are rough orders of magnitude, not statistics.
# fmt: off

_FIRST_F = (
    "Marie", "Élodie", "Hélène", "Camille", "Léa", "Manon", "Chloé", "Emma", "Jade",
    "Louise", "Inès", "Zoé", "Anaïs", "Aurélie", "Céline", "Nathalie", "Isabelle", "Sylvie",
    "Catherine", "Françoise", "Monique", "Jacqueline", "Christiane", "Geneviève", "Thérèse",
    "Brigitte", "Véronique", "Sandrine", "Stéphanie", "Émilie", "Julie", "Sophie", "Laëtitia",
    "Gaëlle", "Maëlys", "Noémie", "Mélanie", "Cécile", "Bérénice", "Séverine", "Agnès",
    "Martine", "Odile", "Solène", "Maïwenn", "Nolwenn", "Anne", "Claire", "Fatima", "Yasmine",
    "Aïcha", "Samira", "Aminata", "Fatoumata", "Leïla", "Sarah", "Lina", "Rose", "Alice",
    "Ambre", "Juliette", "Margaux", "Océane", "Marie-Hélène", "Anne-Sophie", "Marie-Claire",
    "Josiane", "Paulette", "Yvette", "Ghislaine", "Annick", "Maryvonne", "Clémence",
    "Héloïse", "Capucine", "Thaïs", "Lucie", "Éva", "Amandine", "Joëlle", "Ève", "Maïté",
)
_FIRST_M = (
    "Jean", "François", "Yann", "Pierre", "Michel", "Philippe", "Alain", "Patrick", "Nicolas",
    "Christophe", "Stéphane", "Frédéric", "Sébastien", "Jérôme", "Laurent", "Olivier", "Éric",
    "Thierry", "Gérard", "André", "René", "Bernard", "Jacques", "Lucas", "Hugo", "Louis",
    "Gabriel", "Raphaël", "Arthur", "Jules", "Mathéo", "Noah", "Adam", "Léo", "Théo", "Maël",
    "Loïc", "Gaël", "Joël", "Noël", "Hervé", "Gwenaël", "Erwan", "Ronan", "Mohamed", "Karim",
    "Rachid", "Sofiane", "Rayan", "Mamadou", "Amadou", "Ibrahima", "Moussa", "Youssef",
    "Mehdi", "Kévin", "Jérémy", "Anthony", "Cédric", "Benoît", "Jean-François", "Jean-Pierre",
    "Jean-Luc", "Pierre-Yves", "Jean-Marie", "Marc-Antoine", "Dominique", "Claude", "Yves",
    "Bruno", "Didier", "Pascal", "Guy", "Hubert", "Aurélien", "Clément", "Timothée",
    "Baptiste", "Mattéo", "Ange", "Jean-Baptiste", "Ludovic", "Grégory", "Anaël", "Jérémie",
)
_SURNAMES = (
    "MARTIN", "BERNARD", "THOMAS", "PETIT", "ROBERT", "RICHARD", "DURAND", "DUBOIS",
    "MOREAU", "LAURENT", "SIMON", "MICHEL", "LEFÈVRE", "LEFEBVRE", "LEROY", "ROUX", "DAVID",
    "BERTRAND", "MOREL", "FOURNIER", "GIRARD", "BONNET", "DUPONT", "LAMBERT", "FONTAINE",
    "ROUSSEAU", "VINCENT", "MÜLLER", "FRANÇOIS", "MERCIER", "GARNIER", "FAURE", "ANDRÉ",
    "BLANC", "GUÉRIN", "BOYER", "CHEVALIER", "GAUTHIER", "PERRIN", "MASSON", "HENRY",
    "ROUSSEL", "NICOLAS", "MATHIEU", "CLÉMENT", "GAILLARD", "BÉRANGER", "GÉRARD", "LECŒUR",
    "N'DIAYE", "DIALLO", "TRAORÉ", "NGUYEN", "BENALI", "HADDAD", "MARTINEZ", "GARCIA",
    "LOPEZ", "DA SILVA", "DOS SANTOS", "FERREIRA", "RODRIGUES", "ROSSI", "DE LA FONTAINE",
    "D'ALMEIDA", "OUÉDRAOGO", "BENOÎT", "LEMAÎTRE", "CHÂTEAU", "DELAHAYE", "BOUCHER",
    "PRÉVOST", "DESCHAMPS", "MARCHAND", "BRUN", "COLIN", "ARNAUD", "ÉTIENNE", "POIRIER",
)
_SURNAMES_BY_REGION = {
    "bzh": ("LE GALL", "LE GOFF", "LE BRIS", "LE ROUX", "KERGOAT", "LE BIHAN", "GUILLOU",
            "TANGUY", "LE FLOC'H", "MORVAN", "LE CORRE", "QUÉRÉ", "L'HOSTIS", "JÉZÉQUEL"),
    "corse": ("COLONNA", "SANTONI", "LUCIANI", "ALBERTINI", "CESARI", "PAOLI", "MATTEI",
              "GRIMALDI", "FILIPPI", "CASANOVA"),
    "antilles": ("MARIE-SAINTE", "JEAN-BAPTISTE", "LOUIS-JOSEPH", "CÉLESTINE", "ALEXANDRE",
                 "JOSEPH-ANGÉLIQUE", "SAINTE-ROSE"),
    "reunion": ("PAYET", "HOARAU", "GRONDIN", "FONTAINE", "TECHER", "RIVIÈRE", "BÈGUE",
                "MAILLOT", "LEBRETON"),
}
_REGION_OF_DEP = {"22": "bzh", "29": "bzh", "35": "bzh", "56": "bzh", "2A": "corse",
                  "2B": "corse", "972": "antilles", "974": "reunion"}

# (INSEE code, name, postal codes, weight). Département: the first 2 characters, 3 for 97/98.
_COMMUNES: tuple[tuple[str, str, tuple[str, ...], int], ...] = (
    ("75056", "Paris", tuple(f"750{i:02d}" for i in range(1, 21)), 60),
    ("13055", "Marseille", tuple(f"130{i:02d}" for i in range(1, 17)), 25),
    ("13001", "Aix-en-Provence", ("13090", "13100"), 6),
    ("13005", "Aubagne", ("13400",), 3),
    ("13056", "Martigues", ("13500",), 2),
    ("69123", "Lyon", tuple(f"6900{i}" for i in range(1, 10)), 18),
    ("69266", "Villeurbanne", ("69100",), 5),
    ("69259", "Vénissieux", ("69200",), 2),
    ("31555", "Toulouse", ("31000", "31100", "31200", "31300", "31400", "31500"), 15),
    ("31149", "Colomiers", ("31770",), 2),
    ("31395", "Muret", ("31600",), 1),
    ("06088", "Nice", ("06000", "06100", "06200", "06300"), 11),
    ("06029", "Cannes", ("06400",), 3),
    ("06004", "Antibes", ("06600",), 3),
    ("06069", "Grasse", ("06130",), 2),
    ("44109", "Nantes", ("44000", "44100", "44200", "44300"), 10),
    ("44184", "Saint-Nazaire", ("44600",), 3),
    ("44143", "Rezé", ("44400",), 2),
    ("67482", "Strasbourg", ("67000", "67100", "67200"), 9),
    ("67180", "Haguenau", ("67500",), 2),
    ("67447", "Schiltigheim", ("67300",), 1),
    ("34172", "Montpellier", ("34000", "34070", "34080", "34090"), 9),
    ("34032", "Béziers", ("34500",), 3),
    ("34301", "Sète", ("34200",), 2),
    ("33063", "Bordeaux", ("33000", "33100", "33200", "33300", "33800"), 9),
    ("33281", "Mérignac", ("33700",), 3),
    ("33318", "Pessac", ("33600",), 2),
    ("33243", "Libourne", ("33500",), 1),
    ("59350", "Lille", ("59000", "59160", "59260", "59777", "59800"), 8),
    ("59512", "Roubaix", ("59100",), 3),
    ("59599", "Tourcoing", ("59200",), 3),
    ("59183", "Dunkerque", ("59140", "59240", "59640"), 3),
    ("35238", "Rennes", ("35000", "35200", "35700"), 7),
    ("35288", "Saint-Malo", ("35400",), 2),
    ("35115", "Fougères", ("35300",), 1),
    ("35360", "Vitré", ("35500",), 1),
    ("56260", "Vannes", ("56000",), 3),
    ("56121", "Lorient", ("56100",), 3),
    ("56178", "Pontivy", ("56300",), 1),
    ("56007", "Auray", ("56400",), 1),
    ("29019", "Brest", ("29200",), 4),
    ("29232", "Quimper", ("29000",), 2),
    ("29151", "Morlaix", ("29600",), 1),
    ("29103", "Landerneau", ("29800",), 1),
    ("22278", "Saint-Brieuc", ("22000",), 2),
    ("22113", "Lannion", ("22300",), 1),
    ("22050", "Dinan", ("22100",), 1),
    ("76540", "Rouen", ("76000", "76100"), 5),
    ("76351", "Le Havre", ("76600", "76610", "76620"), 5),
    ("76217", "Dieppe", ("76200",), 1),
    ("14118", "Caen", ("14000",), 4),
    ("14366", "Lisieux", ("14100",), 1),
    ("14047", "Bayeux", ("14400",), 1),
    ("38185", "Grenoble", ("38000", "38100"), 5),
    ("38151", "Échirolles", ("38130",), 2),
    ("38544", "Vienne", ("38200",), 1),
    ("63113", "Clermont-Ferrand", ("63000", "63100"), 5),
    ("63300", "Riom", ("63200",), 1),
    ("63178", "Issoire", ("63500",), 1),
    ("21231", "Dijon", ("21000",), 4),
    ("21054", "Beaune", ("21200",), 1),
    ("54395", "Nancy", ("54000", "54100"), 3),
    ("54547", "Vandœuvre-lès-Nancy", ("54500",), 1),
    ("37261", "Tours", ("37000", "37100", "37200"), 4),
    ("37122", "Joué-lès-Tours", ("37300",), 1),
    ("37003", "Amboise", ("37400",), 1),
    ("87085", "Limoges", ("87000", "87100", "87280"), 4),
    ("64445", "Pau", ("64000",), 2),
    ("64102", "Bayonne", ("64100",), 2),
    ("64122", "Biarritz", ("64200",), 1),
    ("64024", "Anglet", ("64600",), 1),
    ("66136", "Perpignan", ("66000", "66100"), 3),
    ("66037", "Canet-en-Roussillon", ("66140",), 1),
    ("92050", "Nanterre", ("92000",), 3),
    ("92012", "Boulogne-Billancourt", ("92100",), 4),
    ("92025", "Colombes", ("92700",), 3),
    ("92026", "Courbevoie", ("92400",), 3),
    ("93066", "Saint-Denis", ("93200",), 4),
    ("93048", "Montreuil", ("93100",), 4),
    ("93001", "Aubervilliers", ("93300",), 3),
    ("93008", "Bobigny", ("93000",), 2),
    ("2A004", "Ajaccio", ("20000", "20090"), 3),
    ("2A247", "Porto-Vecchio", ("20137",), 1),
    ("2A272", "Sartène", ("20100",), 1),
    ("2A249", "Propriano", ("20110",), 1),
    ("2B033", "Bastia", ("20200", "20600"), 3),
    ("2B096", "Corte", ("20250",), 1),
    ("2B050", "Calvi", ("20260",), 1),
    ("2B134", "L'Île-Rousse", ("20220",), 1),
    ("97209", "Fort-de-France", ("97200", "97234"), 3),
    ("97213", "Le Lamentin", ("97232",), 1),
    ("97229", "Schœlcher", ("97233",), 1),
    ("97222", "Le Robert", ("97231",), 1),
    ("97411", "Saint-Denis", ("97400", "97490"), 3),
    ("97416", "Saint-Pierre", ("97410",), 2),
    ("97415", "Saint-Paul", ("97460",), 2),
    ("97422", "Le Tampon", ("97430",), 2),
    ("51454", "Reims", ("51100",), 3),
    ("42218", "Saint-Étienne", ("42000", "42100"), 3),
    ("83137", "Toulon", ("83000", "83100", "83200"), 3),
    ("49007", "Angers", ("49000", "49100"), 3),
    ("30189", "Nîmes", ("30000", "30900"), 3),
    ("72181", "Le Mans", ("72000", "72100"), 3),
    ("80021", "Amiens", ("80000", "80080", "80090"), 2),
    ("25056", "Besançon", ("25000",), 2),
    ("45234", "Orléans", ("45000", "45100"), 2),
    ("57463", "Metz", ("57000", "57050", "57070"), 2),
    ("68224", "Mulhouse", ("68100", "68200"), 2),
    ("74010", "Annecy", ("74000",), 2),
    ("73065", "Chambéry", ("73000",), 1),
    ("17300", "La Rochelle", ("17000",), 2),
    ("86194", "Poitiers", ("86000",), 2),
    ("84007", "Avignon", ("84000",), 2),
    ("62041", "Arras", ("62000",), 1),
    ("10387", "Troyes", ("10000",), 1),
    ("01053", "Bourg-en-Bresse", ("01000",), 1),
    ("26362", "Valence", ("26000",), 1),
    ("11069", "Carcassonne", ("11000",), 1),
    ("12202", "Rodez", ("12000",), 1),
    ("16015", "Angoulême", ("16000",), 1),
    ("24322", "Périgueux", ("24000",), 1),
    ("40192", "Mont-de-Marsan", ("40000",), 1),
    ("47001", "Agen", ("47000",), 1),
    ("81004", "Albi", ("81000",), 1),
    ("65440", "Tarbes", ("65000",), 1),
    ("18033", "Bourges", ("18000",), 1),
    ("28085", "Chartres", ("28000",), 1),
    ("27229", "Évreux", ("27000",), 1),
    ("53130", "Laval", ("53000",), 1),
    ("85191", "La Roche-sur-Yon", ("85000",), 1),
    ("71270", "Mâcon", ("71000",), 1),
    ("88160", "Épinal", ("88000",), 1),
    ("90010", "Belfort", ("90000",), 1),
    ("78646", "Versailles", ("78000",), 2),
    ("91228", "Évry-Courcouronnes", ("91000", "91080"), 1),
    ("94028", "Créteil", ("94000",), 2),
    ("95500", "Pontoise", ("95000", "95300"), 1),
    ("77288", "Meaux", ("77100",), 1),
    ("48095", "Mende", ("48000",), 1),
    ("23096", "Guéret", ("23000",), 1),
    ("08105", "Charleville-Mézières", ("08000",), 1),
)
# Overseas births (INSEE codes 97xxx / 98xxx), with weights.
_OVERSEAS_BIRTHS = (
    ("97101", 3), ("97120", 3), ("97209", 4), ("97213", 2), ("97302", 2), ("97411", 4),
    ("97416", 2), ("97611", 2), ("97502", 1), ("98735", 1), ("98818", 1),
)
# Births abroad: INSEE country codes (99 + 3 digits), with weights.
_COUNTRIES = (
    ("99350", 20), ("99352", 22), ("99351", 8), ("99139", 10), ("99134", 4), ("99127", 4),
    ("99109", 4), ("99131", 3), ("99341", 5), ("99335", 3), ("99208", 5), ("99243", 2),
    ("99216", 2), ("99132", 2), ("99322", 3), ("99326", 3), ("99114", 2), ("99122", 2),
)
# The ~30 laboratories: (FINESS, département, weight).
_LABS = (
    ("750012341", "75", 6), ("130034561", "13", 5), ("690021237", "69", 5),
    ("310011234", "31", 4), ("060015678", "06", 3), ("440023456", "44", 3),
    ("670017894", "67", 3), ("340012786", "34", 3), ("330019870", "33", 3),
    ("590027654", "59", 3), ("350016543", "35", 3), ("560012345", "56", 3),
    ("290013579", "29", 2), ("220014680", "22", 2), ("760018642", "76", 2),
    ("140015793", "14", 2), ("380012468", "38", 2), ("630017531", "63", 2),
    ("210019753", "21", 2), ("540018024", "54", 2), ("370016802", "37", 2),
    ("870013690", "87", 2), ("640017412", "64", 2), ("660014826", "66", 2),
    ("930019512", "93", 3), ("920016357", "92", 3), ("2A0001234", "2A", 2),
    ("2B0002345", "2B", 2), ("970212345", "972", 2), ("970411223", "974", 2),
)
# Telephone region digit per département (landlines 01-05), default 4.
_PHONE_REGION = {
    **dict.fromkeys(("75", "77", "78", "91", "92", "93", "94", "95"), "1"),
    **dict.fromkeys(("14", "18", "22", "27", "28", "29", "35", "36", "37", "41", "44", "45",
                     "49", "50", "53", "56", "61", "72", "76", "85", "974"), "2"),
    **dict.fromkeys(("02", "08", "10", "21", "25", "39", "51", "52", "54", "55", "57", "58",
                     "59", "60", "62", "67", "68", "70", "71", "80", "88", "89", "90"), "3"),
    **dict.fromkeys(("09", "12", "16", "17", "19", "23", "24", "31", "32", "33", "40", "46",
                     "47", "64", "65", "79", "81", "82", "86", "87", "972"), "5"),
}
# Numbers reserved for fiction by the French regulator (ARCEP): 0X AB CD xx xx.
_FICTION_PHONE = {"1": "99 00", "2": "61 91", "3": "53 01", "4": "65 71", "5": "36 49",
                  "6": "39 98"}
_EMAIL_DOMAINS = ("example.fr", "example.com", "example.org", "example.net")
_STREET_TYPES = ("rue", "rue", "rue", "avenue", "boulevard", "place", "allée", "impasse",
                 "chemin", "route", "quai", "cours", "square")
_STREET_NAMES = (
    "des Lilas", "Jean Jaurès", "Victor Hugo", "de la République", "du Général de Gaulle",
    "Pasteur", "de la Gare", "des Écoles", "Gambetta", "du Moulin", "de l'Église",
    "Émile Zola", "des Tilleuls", "Nationale", "Saint-Exupéry", "du 8 Mai 1945",
    "Sadi Carnot", "des Mimosas", "Jean Moulin", "Pierre et Marie Curie", "de la Libération",
    "Aristide Briand", "Georges Clemenceau", "des Acacias", "du Stade", "Frédéric Mistral",
    "des Hortensias", "de Kerlann", "du Château d'Eau", "Léon Blum", "des Peupliers",
)
_LIEUX_DITS = ("Kerhervé", "La Croix Blanche", "Le Bourg", "Les Granges", "Kerlann",
               "La Métairie", "Le Pré Neuf", "Les Bruyères")
_RESIDENCES = ("Résidence Les Pins", "Résidence du Parc", "Cité des Fleurs",
               "Résidence Bellevue", "Les Jardins d'Éole")
_MUTUELLES = (
    ("MGEN", 12), ("Harmonie Mutuelle", 12), ("MAAF Santé", 4), ("Malakoff Humanis", 6),
    ("AG2R La Mondiale", 5), ("Groupama", 5), ("Mutuelle Générale", 4), ("AXA", 5),
    ("Swiss Life", 2), ("Alan", 3), ("April", 2), ("Klesia", 2), ("Apicil", 2),
    ("PRO BTP", 3), ("MNT", 2), ("Intériale", 1), ("Mutuelle Bleue", 1), ("Macif", 4),
    ("Matmut", 3), ("CSS (Complémentaire santé solidaire)", 5), ("", 17),
)
_BLOOD_GROUPS = (
    ("O+", 3600), ("A+", 3700), ("B+", 900), ("AB+", 300), ("O-", 600), ("A-", 700),
    ("B-", 100), ("AB-", 50), ("A2B-", 5), ("O Bombay (Oh)", 2), ("O+ D faible", 20),
    ("B+ Kell+", 10), ("O- Vel négatif", 2), ("A+ Kell+", 20),
)
_PASSWORDS = ("Azerty123", "azerty", "123456", "Soleil2021!", "motdepasse", "s3cret!",
              "Doudou56", "Chouchou!", "Marseille13", "P@ssw0rd", "Mdp;2022", 'Lab"Portail1',
              "Bzh2020", "Loulou.1", "nounours", "Bonjour1")

# Clinical information per condition. {doc} a doctor, {nurse} a nurse, {n} a number,
# {date} a date, {sa} weeks of amenorrhoea (filled per request).
_CLINICAL: dict[str, tuple[str, ...]] = {
    "": (
        "Bilan annuel", "À jeun", "Non à jeun", "Fatigue depuis 3 semaines",
        "Fièvre 39 °C ; toux", "Bilan pré-opératoire (prothèse totale de hanche)",
        "Bilan de contrôle", "Douleurs abdominales", "Asthénie, perte de poids",
        "Suivi Dr {doc}", "Adressé par Dr {doc} pour bilan",
        "Contrôle après antibiothérapie", "Urgent : résultats à faxer au Dr {doc}",
        'Patient "difficile à prélever"', "Dépistage IST ; partenaire positif",
        "Retour de voyage (Sénégal) ; fièvre", "Bilan thyroïdien demandé par Dr {doc}\n"
        "Antécédent de nodule", "Traitement par lithium ; taux résiduel", "Cas contact COVID",
        "Suivi post-COVID",
        "Sevrage alcoolique en cours", "Bilan après tentative de suicide le {date}",
        "Patient sous méthotrexate", "Dépistage VIH à la demande du patient",
    ),
    "diabete": (
        "Diabète type 2 ; METFORMINE 1000 mg x2", "Diabète type 1, pompe à insuline",
        "DT2\nHbA1c cible < 7 %", "Suivi diabète Dr {doc}", "Diabète ; rétinopathie",
        'Diabétique "mal équilibré" selon Dr {doc}',
    ),
    "avk": (
        "AVK : PREVISCAN 20 mg ; INR cible 2-3", "Sous COUMADINE ; valve mécanique",
        'Fibrillation atriale ; traitement "PREVISCAN" 3/4 cp',
        "Contrôle INR J+3 après modification de dose",
        "AVK\nRésultat à transmettre à l'IDE {nurse}",
        "Résultat INR à faxer au Dr {doc}",
    ),
    "thyroide": (
        "Hypothyroïdie ; LEVOTHYROX 75 µg", "Basedow ; suivi Dr {doc}",
        "Thyroïdectomie totale en 2019", "Adaptation LEVOTHYROX\nContrôle à 6 semaines",
    ),
    "grossesse": (
        "Grossesse {sa} SA", "Grossesse {sa} SA ; traitement PREVISCAN",
        "Enceinte {sa} SA, suivie par la sage-femme {nurse}",
        "Grossesse gémellaire {sa} SA\nDiabète gestationnel ?",
        "Grossesse {sa} SA ; toxoplasmose non immune", 'Grossesse {sa} SA, "nausées +++"',
    ),
    "vih": (
        "Suivi VIH ; BIKTARVY", "Patient VIH+ sous trithérapie",
        'VIH : charge virale de contrôle\nObservance "moyenne"',
        "Suivi infectiologie Dr {doc} (VIH)", "VIH découvert en {n}",
    ),
    "onco": (
        "Chimiothérapie J{n} (FOLFOX)", "Cancer du sein ; chimiothérapie en cours",
        "Avant cure de chimiothérapie C{n} ; Dr {doc}",
        "Myélome ; suivi hématologie\nTransfusion le {date}",
        "Lymphome, chimiothérapie R-CHOP cure {n}", "Cancer du côlon métastatique",
    ),
    "irc": (
        "Insuffisance rénale chronique stade 4", "Dialyse lundi, mercredi ; vendredi",
        "IRC ; greffé rénal, tacrolimus", "Néphropathie diabétique ; suivi Dr {doc}",
    ),
    "dyslip": (
        "Hypercholestérolémie ; TAHOR 20 mg", "Contrôle sous statine",
        "Dyslipidémie familiale\nPère décédé d'un infarctus",
    ),
}
_CLINICAL_WOMEN = ("Sous contraception orale", "Bilan de fertilité (PMA)",
                   "Aménorrhée depuis 2 mois", "Ménopause ; traitement hormonal substitutif")
_CLINICAL_EMPTY = {"": 0.55, "diabete": 0.35, "avk": 0.3, "thyroide": 0.4, "grossesse": 0.1,
                   "vih": 0.3, "onco": 0.2, "irc": 0.35, "dyslip": 0.45}
_COMMENTS = (
    "Contrôle à prévoir", "Résultat vérifié sur un second prélèvement",
    "Hémolyse ; résultat à interpréter avec prudence",
    "Valeur critique téléphonée au Dr {doc} à {hh}h{mm}", 'Prélèvement "coagulé" : à refaire',
    "Résultat transmis à l'IDE {nurse}", "Sous réserve : tube mal rempli",
    "Recontrôler dans 3 mois ; avis Dr {doc}",
    "Lipémie importante",
    "Ancien résultat : {old} le {date}", "Résultat confirmé ; transmis au Dr {doc}",
    'Échantillon "non conforme" ; nouveau prélèvement demandé le {date}',
    "Avis biologique : bilan hépatique à compléter\nsi persistance",
)
_COMMENTS_BY_CONDITION = {
    "diabete": ("Diabète déséquilibré ; résultat transmis au Dr {doc}",),
    "avk": ("INR hors zone thérapeutique : Dr {doc} prévenu à {hh}h{mm}",
            "Sous AVK : contrôle INR dans 48 h"),
    "grossesse": ("Interprétation :\nvaleur compatible avec une grossesse évolutive",
                  "Grossesse : contrôle mensuel ; résultat transmis à la sage-femme {nurse}"),
    "vih": ("Contrôle à prévoir, patient VIH+ suivi Dr {doc}",
            "Patient VIH+ ; résultat communiqué au Dr {doc} uniquement"),
    "onco": ("Patient(e) sous chimiothérapie ; aplasie probable",
             'Neutropénie sous chimiothérapie ; avis de l\'oncologue "Dr {doc}"'),
    "irc": ("Insuffisance rénale connue ; dialysé", "Greffé rénal : résultat faxé au Dr {doc}"),
    "thyroide": ("Sous LEVOTHYROX ; dose à adapter",),
    "dyslip": ("Sous statine",),
}
_ANALYSES_CULTURE = (
    ("Stérile", "N", 60), ("< 10^3 UFC/mL", "N", 12), ("Escherichia coli 10^5 UFC/mL", "A", 15),
    ("Klebsiella pneumoniae 10^4 UFC/mL", "A", 3), ("Enterococcus faecalis 10^5 UFC/mL", "A", 2),
    ("Flore polymorphe, contamination probable", "N", 8),
)

# fmt: on

# Paris, Marseille and Lyon: INSEE codes per arrondissement (prefix, count). The last
# digits match the postal code: 75012 -> 75112, 13005 -> 13205, 69003 -> 69383.
_ARRONDISSEMENTS = {"75056": ("751", 20), "13055": ("132", 16), "69123": ("6938", 9)}

_REPLACEMENTS = {
    "œ": "oe",
    "Œ": "OE",
    "≥": ">=",
    "≤": "<=",
    "\u00b5": "u",
    "²": "2",
    "°": "",
    "\u2019": "'",
    "\u2013": "-",
}


def _fitter(encoding: str) -> Callable[[str], str]:
    """A function that rewrites text so that `encoding` can hold it (Œ -> OE, é -> e, ...)."""

    def fit(text: str) -> str:
        try:
            text.encode(encoding)
            return text
        except UnicodeEncodeError:
            pass
        out = []
        for ch in text:
            try:
                ch.encode(encoding)
                out.append(ch)
                continue
            except UnicodeEncodeError:
                pass
            sub = _REPLACEMENTS.get(ch)
            if sub is None:
                decomposed = unicodedata.normalize("NFKD", ch)
                sub = "".join(c for c in decomposed if not unicodedata.combining(c))
            try:
                sub.encode(encoding)
            except UnicodeEncodeError:
                sub = "?"
            out.append(sub)
        return "".join(out)

    return fit


def _ascii_fold(text: str) -> str:
    """Lower-case ASCII for logins and e-mails: accents, spaces and apostrophes removed."""
    text = text.replace("œ", "oe").replace("Œ", "OE")
    decomposed = unicodedata.normalize("NFKD", text)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c))
    return "".join(c for c in plain.lower() if c.isascii() and (c.isalnum() or c == "-"))


def _departement(insee: str) -> str:
    return insee[:3] if insee[:2] in ("97", "98") else insee[:2]


def _luhn_digit(digits: str) -> str:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return str((10 - total % 10) % 10)


def _comma(value: float, decimals: int) -> str:
    return f"{value:.{decimals}f}".replace(".", ",")


def _date(ordinal: int) -> str:
    d = dt.date.fromordinal(ordinal)
    return f"{d.day:02d}/{d.month:02d}/{d.year}"


def _datetime(ordinal: int, minutes: int) -> str:
    d = dt.date.fromordinal(ordinal + minutes // 1440)
    minutes %= 1440
    return f"{d.day:02d}/{d.month:02d}/{d.year} {minutes // 60:02d}:{minutes % 60:02d}"


def _cumulative(weights: Sequence[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


# ---------------------------------------------------------------------------------------
# Analyses.

# A distribution: ("n", mean, sd) normal, or ("ln", median, log sd) log-normal.
Dist = tuple[str, float, float]


class _Analysis:
    """One analysis of the catalogue and how to draw a plausible result for it."""

    __slots__ = (
        "above",
        "below",
        "code",
        "culture",
        "dec",
        "dist_f",
        "dist_m",
        "hi_f",
        "hi_m",
        "kind",
        "label",
        "lo_f",
        "lo_m",
        "loinc",
        "overrides",
        "p_positive",
        "positive_flag",
        "ref_f",
        "ref_m",
        "slow",
        "unit",
    )

    def __init__(
        self,
        code: str,
        loinc: str,
        label: str,
        unit: str,
        kind: str = "num",
        *,
        ref: tuple[str, float | None, float | None] = ("", None, None),
        dist: Dist = ("n", 1.0, 0.1),
        ref_f: tuple[str, float | None, float | None] | None = None,
        dist_f: Dist | None = None,
        dec: int = 0,
        below: float | None = None,
        above: float | None = None,
        overrides: dict[str, Dist | float] | None = None,
        p_positive: float = 0.0,
        positive_flag: str = "A",
        slow: bool = False,
    ) -> None:
        self.code, self.loinc, self.label, self.unit, self.kind = code, loinc, label, unit, kind
        self.ref_m, self.lo_m, self.hi_m = ref
        self.ref_f, self.lo_f, self.hi_f = ref_f or ref
        self.dist_m, self.dist_f = dist, dist_f or dist
        self.dec, self.below, self.above = dec, below, above
        self.overrides = overrides or {}
        self.p_positive, self.positive_flag, self.slow = p_positive, positive_flag, slow
        self.culture: tuple[list[tuple[str, str]], list[float]] = ([], [])

    def fitted(self, fit: Callable[[str], str]) -> _Analysis:
        """This analysis with every text rewritten by `fit`."""
        self.label, self.unit = fit(self.label), fit(self.unit)
        self.ref_m, self.ref_f = fit(self.ref_m), fit(self.ref_f)
        if self.kind == "culture":
            values = [(fit(v), f) for v, f, _ in _ANALYSES_CULTURE]
            self.culture = (values, _cumulative([w for _, _, w in _ANALYSES_CULTURE]))
        return self

    def result(self, rng: random.Random, female: bool, condition: str) -> tuple[str, str, str]:
        """(value, reference range, abnormal flag) for one result."""
        ref = self.ref_f if female else self.ref_m
        kind = self.kind
        if kind == "num":
            dist = self.overrides.get(condition) or (self.dist_f if female else self.dist_m)
            shape, centre, spread = dist
            if shape == "n":
                value = rng.gauss(centre, spread)
                if value <= 0:
                    value = centre * 0.1
            else:
                value = centre * math.exp(rng.gauss(0.0, spread))
            value = round(value, self.dec)
            if self.below is not None and value < self.below:
                return "<" + _comma(self.below, self.dec), ref, "N"
            if self.above is not None and value > self.above:
                return ">" + _comma(self.above, self.dec), ref, "N"
            lo, hi = (self.lo_f, self.hi_f) if female else (self.lo_m, self.hi_m)
            if lo is not None and value < lo:
                flag = "L"
            elif hi is not None and value > hi:
                flag = "H"
            else:
                flag = "N"
            return _comma(value, self.dec), ref, flag
        if kind == "qual":
            p = self.overrides.get(condition, self.p_positive)
            if rng.random() < p:
                return "POSITIF", ref, self.positive_flag
            return "NEGATIF", ref, "N"
        if kind == "culture":
            values, cum = self.culture
            value, flag = rng.choices(values, cum_weights=cum)[0]
            return value, ref, flag
        if kind == "bhcg":
            if condition == "grossesse":
                return str(int(20000 * math.exp(rng.gauss(0.0, 1.2))) + 5), ref, "H"
            return "<2", ref, "N"
        raise AssertionError(kind)  # "group" results are filled in by the caller


def _catalogue() -> dict[str, _Analysis]:
    """The analyses, keyed by local code. LOINC codes are the usual ones for France."""
    a = _Analysis
    # fmt: off
    items = (
        a("HB", "718-7", "Hémoglobine", "g/dL", ref=("13,0 - 17,0", 13.0, 17.0),
          dist=("n", 15.0, 1.1), ref_f=("12,0 - 16,0", 12.0, 16.0), dist_f=("n", 13.6, 1.1),
          dec=1, overrides={"onco": ("n", 11.0, 1.4), "irc": ("n", 11.2, 1.2),
                            "grossesse": ("n", 11.9, 0.9)}),
        a("GR", "789-8", "Hématies", "T/L", ref=("4,50 - 5,70", 4.5, 5.7), dist=("n", 5.0, 0.4),
          ref_f=("3,80 - 5,10", 3.8, 5.1), dist_f=("n", 4.5, 0.35), dec=2),
        a("HT", "4544-3", "Hématocrite", "%", ref=("40,0 - 52,0", 40.0, 52.0),
          dist=("n", 45.0, 3.5), ref_f=("36,0 - 47,0", 36.0, 47.0), dist_f=("n", 41.0, 3.0),
          dec=1),
        a("VGM", "787-2", "VGM", "fL", ref=("80 - 100", 80, 100), dist=("n", 90, 5.5)),
        a("GB", "6690-2", "Leucocytes", "G/L", ref=("4,00 - 10,00", 4.0, 10.0),
          dist=("ln", 6.8, 0.28), dec=2, overrides={"onco": ("ln", 3.6, 0.5)}),
        a("PNN", "751-8", "Polynucléaires neutrophiles", "G/L", ref=("1,80 - 7,50", 1.8, 7.5),
          dist=("ln", 4.0, 0.33), dec=2, overrides={"onco": ("ln", 1.8, 0.6)}),
        a("LYM", "731-0", "Lymphocytes", "G/L", ref=("1,00 - 4,00", 1.0, 4.0),
          dist=("ln", 2.0, 0.33), dec=2, overrides={"vih": ("ln", 1.2, 0.4)}),
        a("PLQ", "777-3", "Plaquettes", "G/L", ref=("150 - 400", 150, 400), dist=("n", 260, 65),
          overrides={"onco": ("n", 170, 80)}),
        a("NA", "2951-2", "Sodium", "mmol/L", ref=("136 - 145", 136, 145), dist=("n", 140, 2.5)),
        a("K", "2823-3", "Potassium", "mmol/L", ref=("3,5 - 5,1", 3.5, 5.1), dist=("n", 4.2, 0.4),
          dec=1, overrides={"irc": ("n", 4.9, 0.6)}),
        a("CL", "2075-0", "Chlore", "mmol/L", ref=("98 - 107", 98, 107), dist=("n", 102, 2.8)),
        a("BIC", "1963-8", "Bicarbonates", "mmol/L", ref=("22 - 29", 22, 29),
          dist=("n", 25.5, 2.2)),
        a("CREA", "14682-9", "Créatinine", "µmol/L", ref=("62 - 106", 62, 106),
          dist=("n", 85, 16), ref_f=("44 - 80", 44, 80), dist_f=("n", 64, 12),
          overrides={"irc": ("n", 250, 90)}),
        a("DFG", "62238-1", "DFG estimé (CKD-EPI)", "mL/min/1,73m²", ref=("≥ 60", 60, None),
          dist=("n", 86, 18), above=90, overrides={"irc": ("n", 28, 12)}),
        a("UREE", "22664-7", "Urée", "mmol/L", ref=("2,5 - 7,5", 2.5, 7.5),
          dist=("n", 5.2, 1.4), dec=1, overrides={"irc": ("n", 15, 5)}),
        a("GLY", "14749-6", "Glycémie à jeun", "mmol/L", ref=("3,9 - 5,8", 3.9, 5.8),
          dist=("n", 5.1, 0.55), dec=1, overrides={"diabete": ("n", 8.5, 2.2)}),
        a("HBA1C", "4548-4", "Hémoglobine glyquée (HbA1c)", "%", ref=("4,0 - 6,0", 4.0, 6.0),
          dist=("n", 5.4, 0.35), dec=1, overrides={"diabete": ("n", 7.4, 1.0)}),
        a("CT", "2093-3", "Cholestérol total", "g/L", ref=("< 2,00", None, 2.0),
          dist=("n", 1.9, 0.35), dec=2, overrides={"dyslip": ("n", 2.5, 0.4)}),
        a("HDL", "2085-9", "Cholestérol HDL", "g/L", ref=("> 0,40", 0.4, None),
          dist=("n", 0.58, 0.14), dec=2),
        a("LDL", "13457-7", "Cholestérol LDL (calculé)", "g/L", ref=("< 1,60", None, 1.6),
          dist=("n", 1.18, 0.32), dec=2, overrides={"dyslip": ("n", 1.75, 0.35)}),
        a("TG", "2571-8", "Triglycérides", "g/L", ref=("< 1,50", None, 1.5),
          dist=("ln", 1.0, 0.42), dec=2),
        a("TSH", "3016-3", "TSH", "mUI/L", ref=("0,27 - 4,20", 0.27, 4.2),
          dist=("ln", 1.7, 0.5), dec=2, below=0.01, overrides={"thyroide": ("ln", 3.0, 1.0)}),
        a("T4L", "14920-3", "T4 libre", "pmol/L", ref=("12,0 - 22,0", 12.0, 22.0),
          dist=("n", 16.0, 2.5), dec=1),
        a("CRP", "1988-5", "Protéine C réactive (CRP)", "mg/L", ref=("< 5", None, 5),
          dist=("ln", 2.0, 1.1), dec=1, below=1),
        a("FER", "2276-4", "Ferritine", "µg/L", ref=("30 - 400", 30, 400),
          dist=("ln", 150, 0.7), ref_f=("15 - 150", 15, 150), dist_f=("ln", 60, 0.8)),
        a("ASAT", "1920-8", "ASAT (TGO)", "UI/L", ref=("< 35", None, 35),
          dist=("ln", 24, 0.35)),
        a("ALAT", "1742-6", "ALAT (TGP)", "UI/L", ref=("< 45", None, 45), dist=("ln", 24, 0.5)),
        a("GGT", "2324-2", "Gamma-GT", "UI/L", ref=("< 55", None, 55), dist=("ln", 28, 0.65)),
        a("PAL", "6768-6", "Phosphatases alcalines", "UI/L", ref=("40 - 130", 40, 130),
          dist=("n", 78, 22)),
        a("BILI", "14631-6", "Bilirubine totale", "µmol/L", ref=("< 21", None, 21),
          dist=("ln", 9, 0.45), below=3),
        a("TP", "5894-1", "Taux de prothrombine", "%", ref=("70 - 120", 70, 120),
          dist=("n", 96, 10), overrides={"avk": ("n", 32, 8)}),
        a("INR", "6301-6", "INR", "", ref=("0,80 - 1,20", 0.8, 1.2), dist=("n", 1.0, 0.08),
          dec=2, overrides={"avk": ("n", 2.6, 0.6)}),
        a("VITD", "62292-8", "Vitamine D (25-OH D2+D3)", "ng/mL", ref=("30,0 - 100,0", 30, 100),
          dist=("ln", 24, 0.45), dec=1, slow=True),
        a("PSA", "2857-1", "PSA total", "ng/mL", ref=("< 4,00", None, 4.0),
          dist=("ln", 1.1, 0.8), dec=2, below=0.01),
        a("BHCG", "21198-7", "Bêta-hCG plasmatique", "UI/L", "bhcg", ref=("< 5", None, 5)),
        a("VIH", "56888-1", "Sérologie VIH 1+2 (Ag p24 + Ac)", "", "qual",
          ref=("NEGATIF", None, None), p_positive=0.001, overrides={"vih": 1.0}, slow=True),
        a("HBS", "5196-1", "Antigène HBs", "", "qual", ref=("NEGATIF", None, None),
          p_positive=0.008, slow=True),
        a("VHC", "16128-1", "Anticorps anti-VHC", "", "qual", ref=("NEGATIF", None, None),
          p_positive=0.005, slow=True),
        a("TOXO", "22580-5", "Toxoplasmose IgG", "", "qual", p_positive=0.3,
          positive_flag="N", slow=True),
        a("RUB", "8014-9", "Rubéole IgG", "", "qual", p_positive=0.92, positive_flag="N",
          slow=True),
        a("COVID", "94500-6", "SARS-CoV-2 (RT-PCR)", "", "qual", ref=("NEGATIF", None, None),
          p_positive=0.12),
        a("GRP", "882-1", "Groupe sanguin ABO-RhD", "", "group"),
        a("RAI", "890-4", "Recherche d'agglutinines irrégulières (RAI)", "", "qual",
          ref=("NEGATIF", None, None), p_positive=0.01),
        a("ECBU", "630-4", "ECBU : culture", "", "culture", slow=True),
        a("CA", "2000-8", "Calcium", "mmol/L", ref=("2,15 - 2,55", 2.15, 2.55),
          dist=("n", 2.35, 0.09), dec=2),
        a("URIC", "14933-6", "Acide urique", "µmol/L", ref=("200 - 420", 200, 420),
          dist=("n", 330, 70), ref_f=("140 - 360", 140, 360), dist_f=("n", 260, 60)),
        a("DDIM", "48065-7", "D-dimères", "ng/mL FEU", ref=("< 500", None, 500),
          dist=("ln", 300, 0.7), below=150),
        a("NTBNP", "33762-6", "NT-proBNP", "pg/mL", ref=("< 125", None, 125),
          dist=("ln", 90, 1.1), below=5),
        a("CD4", "24467-3", "Lymphocytes T CD4", "/mm3", ref=("500 - 1500", 500, 1500),
          dist=("n", 850, 250), overrides={"vih": ("n", 620, 220)}),
        a("CVVIH", "25836-8", "Charge virale VIH-1", "copies/mL", ref=("< 20", None, 20),
          dist=("ln", 4, 2.0), below=20, slow=True),
    )
    # fmt: on
    return {item.code: item for item in items}


_PANELS: dict[str, tuple[str, ...]] = {
    "NFS": ("HB", "GR", "HT", "VGM", "GB", "PNN", "LYM", "PLQ"),
    "IONO": ("NA", "K", "CL", "BIC"),
    "RENAL": ("CREA", "DFG", "UREE"),
    "LIPID": ("CT", "HDL", "LDL", "TG"),
    "HEPAT": ("ASAT", "ALAT", "GGT", "PAL", "BILI"),
    "COAG": ("TP", "INR"),
    "IST": ("VIH", "HBS", "VHC"),
    "GROUPE": ("GRP", "RAI"),
    "PRENATAL": ("TOXO", "RUB", "VIH", "HBS"),
    "SUIVI_VIH": ("CD4", "CVVIH"),
}
# Profile -> (panels always done, (panel, probability) extras).
_PROFILES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, float], ...]]] = {
    "bilan": (
        ("NFS", "IONO", "RENAL", "GLY"),
        (
            ("LIPID", 0.6),
            ("HEPAT", 0.3),
            ("TSH", 0.25),
            ("CRP", 0.2),
            ("VITD", 0.15),
            ("FER", 0.15),
            ("URIC", 0.1),
            ("CA", 0.1),
        ),
    ),
    "inflam": (("NFS", "CRP"), (("IONO", 0.3),)),
    "diabete": (("GLY", "HBA1C"), (("RENAL", 0.6), ("LIPID", 0.5), ("IONO", 0.3))),
    "avk": (("INR",), (("TP", 0.6),)),
    "thyroide": (("TSH",), (("T4L", 0.4),)),
    "grossesse_debut": (("BHCG",), (("PRENATAL", 0.6), ("GROUPE", 0.5), ("NFS", 0.4))),
    "grossesse_suivi": (("TOXO",), (("NFS", 0.4), ("GLY", 0.2), ("RAI", 0.3))),
    "ist": (("IST",), ()),
    "vih": (("SUIVI_VIH", "NFS"), (("RENAL", 0.5), ("HEPAT", 0.3))),
    "onco": (("NFS",), (("IONO", 0.5), ("RENAL", 0.5), ("HEPAT", 0.4), ("CRP", 0.3))),
    "irc": (("RENAL", "IONO"), (("NFS", 0.5), ("CA", 0.5), ("URIC", 0.3))),
    "preop": (("NFS", "COAG", "GROUPE"), (("IONO", 0.5),)),
    "covid": (("COVID",), ()),
    "ecbu": (("ECBU",), ()),
    "cardio": (("NTBNP",), (("DDIM", 0.3), ("IONO", 0.5), ("RENAL", 0.5))),
    "lipid": (("LIPID",), (("HEPAT", 0.3),)),
    "martial": (("NFS", "FER"), ()),
    "vitd": (("VITD",), (("CA", 0.5),)),
    "psa": (("PSA",), ()),
}
_CONDITIONS = (
    ("", 62.0),
    ("diabete", 8.0),
    ("avk", 4.0),
    ("thyroide", 7.0),
    ("grossesse", 5.0),
    ("vih", 0.6),
    ("onco", 2.5),
    ("irc", 2.5),
    ("dyslip", 8.0),
)
# Condition -> (age range, requests per patient (values, weights)).
_CONDITION_AGES = {
    "diabete": (35, 90),
    "avk": (50, 96),
    "thyroide": (20, 85),
    "grossesse": (18, 44),
    "vih": (20, 75),
    "onco": (30, 90),
    "irc": (40, 95),
    "dyslip": (35, 85),
}
_CONDITION_REQUESTS = {
    "": ((1, 2, 3, 4, 5, 6), (38, 25, 16, 10, 6, 5)),
    "diabete": (tuple(range(3, 10)), (1,) * 7),
    "avk": (tuple(range(6, 21)), (1,) * 15),
    "thyroide": (tuple(range(2, 7)), (1,) * 5),
    "grossesse": (tuple(range(3, 8)), (1,) * 5),
    "vih": (tuple(range(3, 9)), (1,) * 6),
    "onco": (tuple(range(6, 19)), (1,) * 13),
    "irc": (tuple(range(4, 13)), (1,) * 9),
    "dyslip": (tuple(range(2, 6)), (1,) * 4),
}
_AGE_BANDS = (
    (0, 4, 4),
    (5, 17, 7),
    (18, 29, 12),
    (30, 44, 18),
    (45, 59, 20),
    (60, 74, 21),
    (75, 89, 15),
    (90, 100, 3),
)


def _profile_weights(condition: str, male: bool, age: int, covid_era: bool) -> dict[str, float]:
    """Weights of the request profiles for a patient on a given day."""
    if condition == "":
        weights = {
            "bilan": 30,
            "inflam": 12,
            "thyroide": 8,
            "lipid": 6,
            "ecbu": 7,
            "martial": 6,
            "vitd": 5,
            "ist": 4 if 16 <= age <= 60 else 0.5,
            "preop": 5,
            "cardio": 4 if age >= 60 else 0.3,
            "psa": 4 if male and age >= 50 else 0,
        }
    else:
        main = {"grossesse": "grossesse_suivi", "dyslip": "lipid"}.get(condition, condition)
        weights = {main: 70, "bilan": 18, "inflam": 6, "ecbu": 4}
    weights["covid"] = 25 if covid_era else 2
    return weights


# ---------------------------------------------------------------------------------------
# The generator.


class _Patient:
    __slots__ = (
        "age",
        "body",
        "condition",
        "creds",
        "female",
        "first",
        "gp",
        "group",
        "group_known",
        "ipp",
        "key",
        "lab",
        "last",
        "mid",
    )


class _Generator:
    """Draws patients, requests and results from one random.Random."""

    def __init__(self, rng: random.Random, fit: Callable[[str], str]) -> None:
        self.rng = rng
        self.fit = fit
        self.patients = self.requests = self.rows = 0
        self.invalid_nir = self.invalid_dates = 0
        self._day_counts: dict[int, int] = {}
        self._ipp_offset = rng.randrange(10**8)
        self._profile_cache: dict[tuple[str, bool, int, bool], tuple[list[str], list[float]]] = {}
        self.analyses = {code: item.fitted(fit) for code, item in _catalogue().items()}

        self.first_f = tuple(map(fit, _FIRST_F))
        self.first_m = tuple(map(fit, _FIRST_M))
        self.surnames = tuple(map(fit, _SURNAMES))
        self.regional = {k: tuple(map(fit, v)) for k, v in _SURNAMES_BY_REGION.items()}
        self.fold = {
            name: _ascii_fold(name)
            for name in (
                *_FIRST_F,
                *_FIRST_M,
                *_SURNAMES,
                *(n for v in _SURNAMES_BY_REGION.values() for n in v),
            )
        }
        self.fold.update({fit(k): v for k, v in list(self.fold.items())})

        self.communes = [(c, fit(n), p) for c, n, p, _ in _COMMUNES]
        self.commune_cum = _cumulative([w for *_, w in _COMMUNES])
        self.by_dep: dict[str, list[tuple[str, str, tuple[str, ...]]]] = {}
        self.by_dep_cum: dict[str, list[float]] = {}
        for (code, *_, weight), fitted in zip(_COMMUNES, self.communes, strict=True):
            dep = _departement(code)
            self.by_dep.setdefault(dep, []).append(fitted)
            self.by_dep_cum.setdefault(dep, []).append(weight)
        self.by_dep_cum = {k: _cumulative(v) for k, v in self.by_dep_cum.items()}
        self.overseas = [c for c, _ in _OVERSEAS_BIRTHS]
        self.overseas_cum = _cumulative([w for _, w in _OVERSEAS_BIRTHS])
        self.countries = [c for c, _ in _COUNTRIES]
        self.countries_cum = _cumulative([w for _, w in _COUNTRIES])
        self.labs_cum = _cumulative([w for *_, w in _LABS])
        self.mutuelles = [fit(m) for m, _ in _MUTUELLES]
        self.mutuelles_cum = _cumulative([w for _, w in _MUTUELLES])
        self.groups = [fit(g) for g, _ in _BLOOD_GROUPS]
        self.groups_cum = _cumulative([w for _, w in _BLOOD_GROUPS])
        self.streets = tuple(map(fit, _STREET_NAMES))
        self.street_types = tuple(map(fit, _STREET_TYPES))
        self.lieux = tuple(map(fit, _LIEUX_DITS))
        self.residences = tuple(map(fit, _RESIDENCES))
        self.conditions = [c for c, _ in _CONDITIONS]
        self.conditions_cum = _cumulative([w for _, w in _CONDITIONS])

        # Prescribers and nurses per lab, then free-text pools that name some of them.
        self.prescribers: list[list[tuple[str, str, str]]] = []
        self.preleveurs: list[tuple[list[str], list[float]]] = []
        used_rpps: set[str] = set()
        doctors, nurses = [], []
        for _, dep, _ in _LABS:
            team = []
            for _ in range(25):
                first, last = self._name(rng.random() < 0.5, dep)
                title = "Pr" if rng.random() < 0.04 else "Dr"
                rpps = ""
                while not rpps or rpps in used_rpps:
                    body = "10" + "".join(rng.choice("0123456789") for _ in range(8))
                    rpps = body + _luhn_digit(body)
                used_rpps.add(rpps)
                posts = self._commune_in(dep)[2]
                team.append((f"{title} {first} {last}", rpps, rng.choice(posts)))
                doctors.append(f"{first} {last}" if rng.random() < 0.6 else last)
            self.prescribers.append(team)
            staff = [self._name(rng.random() < 0.8, dep) for _ in range(6)]
            nurses += [last for _, last in staff]
            city = self._commune_in(dep)[1]
            options = [
                ("Laboratoire", 40.0),
                ("Prélevé au laboratoire", 15.0),
                (f"Site {city}", 8.0),
                ("Centre de prélèvement", 4.0),
                ("", 6.0),
            ]
            options += [(f"IDE {last} (domicile)", 3.0) for _, last in staff]
            options += [(f"IDE {first} {last}", 1.0) for first, last in staff[:3]]
            options.append((f"Dr {team[0][0].split(' ', 2)[2]} (cabinet)", 3.0))
            self.preleveurs.append(
                ([fit(o) for o, _ in options], _cumulative([w for _, w in options]))
            )
        self.doctors, self.nurses = doctors, nurses
        self.clinical = {
            (condition, female): self._fill_pool(
                templates + (_CLINICAL_WOMEN if female and not condition else ()), 80
            )
            for condition, templates in _CLINICAL.items()
            for female in (False, True)
        }
        self.comments = {
            condition: self._fill_pool(
                (*_COMMENTS, *_COMMENTS_BY_CONDITION.get(condition, ()) * 4), 200
            )
            for condition in _CLINICAL
        }
        self.dynamic_comments = (
            fit("Identité vérifiée (NIR {nir})"),
            fit("Résultat communiqué à {name} par téléphone"),
            fit('Patient(e) "{name}" rappelé(e) ; NIR {nir}'),
        )

    # -- helpers -----------------------------------------------------------------------

    def _fill_pool(self, templates: Sequence[str], size: int) -> tuple[str, ...]:
        """`size` texts from `templates`, with doctors, nurses, numbers and dates filled in."""
        rng = self.rng
        out = []
        for _ in range(size):
            text = rng.choice(templates)
            text = text.replace("{doc}", rng.choice(self.doctors))
            text = text.replace("{nurse}", rng.choice(self.nurses))
            text = text.replace("{n}", str(rng.choice((1, 2, 3, 4, 6, 8, 15, 2012, 2018))))
            text = text.replace("{date}", _date(rng.randint(_FIRST_DAY, _LAST_DAY)))
            text = text.replace("{hh}", f"{rng.randint(7, 19):02d}")
            text = text.replace("{mm}", f"{rng.randint(0, 59):02d}")
            text = text.replace("{old}", _comma(rng.uniform(1, 9), 1))
            out.append(self.fit(text))
        return tuple(out)

    def _name(self, female: bool, dep: str) -> tuple[str, str]:
        rng = self.rng
        first = rng.choice(self.first_f if female else self.first_m)
        region = _REGION_OF_DEP.get(dep)
        if region and rng.random() < 0.35:
            return first, rng.choice(self.regional[region])
        if rng.random() < 0.04:
            return first, rng.choice(self.regional[rng.choice(tuple(_SURNAMES_BY_REGION))])
        return first, rng.choice(self.surnames)

    def _commune_in(self, dep: str) -> tuple[str, str, tuple[str, ...]]:
        return self.rng.choices(self.by_dep[dep], cum_weights=self.by_dep_cum[dep])[0]

    def _any_commune(self) -> tuple[str, str, tuple[str, ...]]:
        return self.rng.choices(self.communes, cum_weights=self.commune_cum)[0]

    def _phone(self, dep: str) -> str:
        rng = self.rng
        region = "6" if rng.random() < 0.65 else _PHONE_REGION.get(dep, "4")
        digits = f"0{region} {_FICTION_PHONE[region]} {rng.randint(0, 99):02d} "
        digits += f"{rng.randint(0, 99):02d}"
        r = rng.random()
        if r < 0.7:
            return digits
        if r < 0.85:
            return digits.replace(" ", "")
        if r < 0.95:
            return "+33 " + digits[1:]
        return digits.replace(" ", ".")

    def _address(self, dep: str) -> str:
        rng = self.rng
        number = f"{rng.randint(1, 150)}{rng.choice(('', '', '', '', '', '', ' bis', ' ter'))}"
        street = f"{number} {rng.choice(self.street_types)} {rng.choice(self.streets)}"
        r = rng.random()
        if r < 0.72:
            return street
        if r < 0.82:
            return f"Appt {rng.randint(1, 60)}, {street}"
        if r < 0.88:
            return self.fit(f"Bât. {rng.choice('ABCDE')}, {rng.choice(self.residences)}")
        if r < 0.92 or (dep in ("22", "29", "35", "56") and r < 0.96):
            return f"Lieu-dit {rng.choice(self.lieux)}"
        if r < 0.99:
            return f"{street}, BP {rng.randint(10, 999)}"
        return ""

    def _request_days(self, condition: str) -> list[int]:
        rng = self.rng
        values, weights = _CONDITION_REQUESTS[condition]
        n = rng.choices(values, weights=weights)[0]
        if condition == "grossesse":
            start = rng.randint(_FIRST_DAY, _LAST_DAY - 60)
            end = min(start + 250, _LAST_DAY)
        else:
            start, end = _FIRST_DAY, _LAST_DAY
        days = []
        for _ in range(n):
            day = rng.randint(start, end)
            if day % 7 == 0 and rng.random() < 0.9:  # most labs are closed on Sundays
                day = day + 1 if day < end else day - 1
            days.append(day)
        days.sort()
        return days

    def _profile(self, patient: _Patient, day: int, first: bool) -> str:
        if patient.condition == "grossesse" and first:
            return "grossesse_debut"
        covid_era = day < _COVID_ERA_END
        key = (patient.condition, not patient.female, min(patient.age, 99) // 5 * 5, covid_era)
        cached = self._profile_cache.get(key)
        if cached is None:
            weights = _profile_weights(key[0], key[1], key[2], covid_era)
            names = [k for k, w in weights.items() if w > 0]
            cached = names, _cumulative([weights[k] for k in names])
            self._profile_cache[key] = cached
        return self.rng.choices(cached[0], cum_weights=cached[1])[0]

    def _analyses(self, profile: str) -> list[_Analysis]:
        rng = self.rng
        always, extras = _PROFILES[profile]
        panels = list(always) + [p for p, prob in extras if rng.random() < prob]
        out = []
        for panel in panels:
            out += [self.analyses[code] for code in _PANELS.get(panel, (panel,))]
        return out

    # -- patients ----------------------------------------------------------------------

    def _patient(self, days: list[int], condition: str, female: bool, sex: str) -> _Patient:
        rng, fit = self.rng, self.fit
        p = _Patient()
        p.condition, p.female = condition, female
        lab = rng.choices(range(len(_LABS)), cum_weights=self.labs_cum)[0]
        p.lab = lab
        lab_dep = _LABS[lab][1]
        p.gp = rng.randrange(25)

        if condition in _CONDITION_AGES:
            age = rng.randint(*_CONDITION_AGES[condition])
        else:
            low, high, _ = rng.choices(_AGE_BANDS, weights=[w for *_, w in _AGE_BANDS])[0]
            age = rng.randint(low, high)
        p.age = age
        first_day = days[0]
        birth = first_day - age * 365 - age // 4 - rng.randint(1, 364)
        if rng.random() < 0.01:  # a leap-day birthday
            year = dt.date.fromordinal(birth).year
            while not (year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)):
                year -= 1
            birth = dt.date(year, 2, 29).toordinal()
            if birth >= first_day:
                birth = dt.date(year - 4, 2, 29).toordinal()

        # Residence: mostly near the lab.
        local = 0.97 if lab_dep in ("2A", "2B", "972", "974") else 0.85
        res = self._commune_in(lab_dep) if rng.random() < local else self._any_commune()
        res_dep = _departement(res[0])
        # Birthplace.
        r = rng.random()
        overseas_resident = res_dep[:2] == "97"
        if r < 0.08:
            birth_code = rng.choices(self.countries, cum_weights=self.countries_cum)[0]
        elif r < 0.105 and not overseas_resident:
            birth_code = rng.choices(self.overseas, cum_weights=self.overseas_cum)[0]
        elif r < (0.8 if overseas_resident or res_dep in ("2A", "2B") else 0.5):
            birth_code = self._commune_in(res_dep)[0]
        else:
            birth_code = self._any_commune()[0]

        if birth_code in _ARRONDISSEMENTS:  # births are registered per arrondissement
            prefix, count = _ARRONDISSEMENTS[birth_code]
            birth_code = f"{prefix}{rng.randint(1, count):0{5 - len(prefix)}d}"
        month_unknown = birth_code[:2] == "99" and rng.random() < 0.03
        if month_unknown:  # born abroad, month unknown: 01/01 by convention
            birth = dt.date(dt.date.fromordinal(birth).year, 1, 1).toordinal()
        birth_date = dt.date.fromordinal(birth)
        nir_sex = "1" if sex == "M" else "2" if sex == "F" else rng.choice("12")
        month = rng.choice((20, *range(30, 43))) if month_unknown else birth_date.month
        p.body = (
            f"{nir_sex}{birth_date.year % 100:02d}{month:02d}{birth_code}{rng.randint(1, 999):03d}"
        )
        p.key = nir_key(p.body)
        if rng.random() < (0.3 if age == 0 else 0.015):
            p.body = ""  # no NIR recorded (newborn, foreign patient ...)

        region_dep = res_dep if res_dep in _REGION_OF_DEP else lab_dep
        first, last = self._name(female if sex != "I" else rng.random() < 0.5, region_dep)
        names = [first]
        r = rng.random()
        if r < 0.5:
            names.append(self._name(female, region_dep)[0])
            if r < 0.1:
                names.append(self._name(female, region_dep)[0])
        prenoms = " ".join(dict.fromkeys(names))
        if female and age >= 22 and rng.random() < 0.5:
            usage = self._name(False, region_dep)[1]
            if rng.random() < 0.1:
                usage = f"{usage}-{last}"
        else:
            usage = last if rng.random() < 0.7 else ""
        p.first, p.last = first, usage or last
        folded_first = self.fold.get(first) or _ascii_fold(first)
        folded_last = self.fold.get(p.last) or _ascii_fold(p.last)
        yy = f"{birth_date.year % 100:02d}"

        email = ""
        if rng.random() < 0.65:
            local_part = rng.choice(
                (
                    f"{folded_first}.{folded_last}",
                    f"{folded_first[0]}.{folded_last}",
                    f"{folded_first}{folded_last}{yy}",
                    f"{folded_last}.{folded_first}",
                    f"{folded_first}_{folded_last}{rng.randint(1, 99)}",
                )
            )
            email = f"{local_part}@{rng.choice(_EMAIL_DOMAINS)}"
        mutuelle = rng.choices(self.mutuelles, cum_weights=self.mutuelles_cum)[0]
        member = ""
        if mutuelle:
            r = rng.random()
            if r < 0.6:
                member = f"{rng.randrange(10**9):09d}"
            elif r < 0.85:
                member = f"{rng.randrange(10**10):010d}"
            else:
                member = f"{rng.choice('ABHMX')}{rng.randrange(10**8):08d}"
        caisse = ""
        if p.body or rng.random() < 0.5:
            regime = rng.choices(("01", "02", "04", "05", "06"), weights=(90, 7, 1.5, 0.7, 0.8))[0]
            if res_dep in ("2A", "2B"):
                office = "201" if res_dep == "2A" else "202"
            elif len(res_dep) == 3:
                office = res_dep
            else:
                office = res_dep + "1"
            caisse = f"{regime} {office}"
        city = res[1] if rng.random() < 0.7 else res[1].upper()
        postal = rng.choice(res[2])
        home = res[0]
        if home in _ARRONDISSEMENTS and rng.random() < 0.8:  # 75112 for 75012, 13205, 69383
            prefix = _ARRONDISSEMENTS[home][0]
            home = prefix + postal[len(prefix) :]
        p.mid = [
            last,
            usage,
            prenoms,
            sex,
            _date(birth),
            birth_code,
            self._address(res_dep),
            postal,
            home,
            city,
            self._phone(res_dep) if rng.random() < 0.93 else "",
            email,
            caisse,
            mutuelle,
            member,
        ]
        if rng.random() < 0.7:
            login = rng.choice(
                (
                    f"{folded_first[0]}{folded_last}",
                    f"{folded_first}.{folded_last}{yy}",
                    f"{folded_last}{rng.randint(1, 9)}",
                    email or f"{folded_first}{folded_last}",
                )
            )
            r = rng.random()
            if r < 0.6:
                password = rng.choice(_PASSWORDS)
            elif r < 0.8:
                password = f"{fit(first)}{birth_date.year}!"
            else:
                alphabet = "abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789!?*#"
                password = "".join(rng.choice(alphabet) for _ in range(10))
            p.creds = [login, password]
        else:
            p.creds = ["", ""]
        p.group = rng.choices(self.groups, cum_weights=self.groups_cum)[0]
        p.group_known = rng.random() < 0.45
        self.patients += 1
        p.ipp = f"P{(self._ipp_offset + self.patients * 7919) % 10**8:08d}"
        return p

    def _nir_text(self, p: _Patient, invalid: bool) -> str:
        """The NIR as one request prints it: spaced, compact, dotted, with or without key."""
        rng = self.rng
        body = p.body
        key = p.key
        if invalid:
            key = (key - 1 + rng.randint(1, 96)) % 97 + 1
        k = f"{key:02d}"
        r = rng.random()
        if r < 0.45:
            text = f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:]} {k}"
        elif r < 0.78:
            text = body + k
        elif r < 0.88:
            text = f"{body[0]}.{body[1:3]}.{body[3:5]}.{body[5:7]}.{body[7:10]}.{body[10:]}.{k}"
        elif invalid:
            text = body + " " + k
        elif r < 0.95:
            text = body  # 13 characters, no key
        else:
            text = f"{body[0]} {body[1:3]} {body[3:5]} {body[5:7]} {body[7:10]} {body[10:]}"
        if body[5] == "2" and body[6] in "AB" and rng.random() < 0.3:
            text = text.lower()
        return text

    # -- requests and rows -------------------------------------------------------------

    def _patient_requests(self, remaining: int) -> list[list[list[str]]]:
        """The rows of one new patient's requests (at most `remaining` rows), by request."""
        rng = self.rng
        r = rng.random()
        sex = "F" if r < 0.54 else "M" if r < 0.9995 else "I"
        female = sex == "F"
        while True:
            condition = rng.choices(self.conditions, cum_weights=self.conditions_cum)[0]
            if condition != "grossesse" or female:
                break
        days = self._request_days(condition)
        p = self._patient(days, condition, female, sex)

        plans: list[tuple[int, list[_Analysis]]] = []
        planned = 0
        for i, day in enumerate(days):
            analyses = self._analyses(self._profile(p, day, i == 0))
            analyses = analyses[: remaining - planned]
            if not analyses:
                break
            plans.append((day, analyses))
            planned += len(analyses)

        # Wrong keys: drawn at random, never more than INVALID_NIR_SHARE of the rows so far.
        invalid = (
            bool(p.body)
            and rng.random() < 0.1
            and self.invalid_nir + planned <= INVALID_NIR_SHARE * (self.rows + planned)
        )
        if invalid:
            self.invalid_nir += planned
        self.rows += planned

        lab_finess = _LABS[p.lab][0]
        team = self.prescribers[p.lab]
        preleveurs, preleveurs_cum = self.preleveurs[p.lab]
        clinical = self.clinical[p.condition, p.female]
        clinical_empty = _CLINICAL_EMPTY[p.condition]
        comments = self.comments[p.condition]
        creds = p.creds
        female, condition = p.female, p.condition
        random_ = rng.random
        requests = []
        for day, analyses in plans:
            self.requests += 1
            count = self._day_counts.get(day, 0) + 1
            self._day_counts[day] = count
            d = dt.date.fromordinal(day)
            dossier = f"D{d.year % 100:02d}-{d.month:02d}{d.day:02d}-{count:04d}"
            nir = self._nir_text(p, invalid) if p.body else ""
            r = random_()
            if r < 0.72:
                doctor = team[p.gp]
            elif r < 0.97:
                doctor = team[rng.randrange(25)]
            else:
                doctor = ("", "", "")  # no prescription
            preleveur = rng.choices(preleveurs, cum_weights=preleveurs_cum)[0]
            if random_() < 0.85:
                sampled = rng.randint(6 * 60 + 45, 12 * 60 + 30)
            else:
                sampled = rng.randint(14 * 60, 18 * 60 + 30)
            validated = sampled + rng.randint(20, 6 * 60)
            if validated % 1440 > 20 * 60:
                validated = 1440 + rng.randint(8 * 60, 10 * 60)
            slow_validated = 1440 * rng.randint(1, 3) + rng.randint(9 * 60, 18 * 60)
            head = [
                dossier,
                p.ipp,
                nir,
                *p.mid,
                *doctor,
                preleveur,
                _datetime(day, sampled),
                _datetime(day, validated),
                lab_finess,
            ]
            slow_head = None
            if random_() < clinical_empty:
                info = ""
            else:
                info = rng.choice(clinical)
                if "{sa}" in info:
                    sa = min(41, 6 + (day - plans[0][0]) // 7 + rng.randint(0, 2))
                    info = info.replace("{sa}", str(sa))
            group = p.group if p.group_known else ""
            rows = []
            for analysis in analyses:
                if analysis.kind == "group":
                    value, ref, flag = p.group, "", ""
                    p.group_known = True
                else:
                    value, ref, flag = analysis.result(rng, female, condition)
                u = random_()
                if u < (0.25 if flag in ("H", "L", "A") else 0.03):
                    comment = rng.choice(comments)
                elif u > 0.9995:
                    comment = rng.choice(self.dynamic_comments)
                    comment = comment.replace("{nir}", nir or p.body).replace(
                        "{name}", f"{p.first} {p.last}"
                    )
                else:
                    comment = ""
                if analysis.slow:
                    if slow_head is None:
                        slow_head = head.copy()
                        slow_head[_VALIDATED] = _datetime(day, slow_validated)
                    row_head = slow_head
                else:
                    row_head = head
                row = [
                    *row_head,
                    analysis.code,
                    analysis.loinc,
                    analysis.label,
                    value,
                    analysis.unit,
                    ref,
                    flag,
                    group,
                    info,
                    comment,
                    *creds,
                ]
                if random_() < INVALID_DATE_SHARE:
                    self._break_date(row)
                rows.append(row)
            requests.append(rows)
        return requests

    def _break_date(self, row: list[str]) -> None:
        """Replace one date of `row` by an impossible one (31/02, 29/02 of a common year ...).

        Only date_naissance (70%) and date_prelevement (30%), the dates the reference
        policy reads: every such row must be rejected there.
        """
        rng = self.rng
        column = _BIRTH if rng.random() < 0.7 else _SAMPLED
        text = row[column]
        year = int(text[6:10])
        day_month = rng.choice(
            (
                "31/02",
                "30/02",
                "31/04",
                "31/06",
                "31/09",
                "31/11",
                "32/01",
                "00/03",
                "15/13",
                "29/02",
            )
        )
        if day_month == "29/02":
            while year % 4 == 0:
                year += 1
        row[column] = f"{day_month}/{year}{text[10:]}"
        self.invalid_dates += 1

    def chunks(self, rows: int) -> Iterator[list[list[str]]]:
        """Rows in chunks of a few thousand, requests shuffled within a chunk."""
        done = 0
        while done < rows:
            requests: list[list[list[str]]] = []
            size = 0
            while done + size < rows and size < _CHUNK_ROWS:
                for request in self._patient_requests(rows - done - size):
                    requests.append(request)
                    size += len(request)
            self.rng.shuffle(requests)
            yield [row for request in requests for row in request]
            done += size


def write_sample(
    path: str | Path, rows: int, seed: int = 0, encoding: str = "utf-8"
) -> SampleSummary:
    """Write a synthetic export of exactly `rows` result rows to `path` (CSV, header row).

    The same `seed` gives a byte-identical file. Text the `encoding` cannot hold is
    transliterated: with cp1252 only "≥" becomes ">="; with latin-1 "œ" also becomes "oe".
    """
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
        raise ValueError("rows must be a non-negative integer")
    codecs.lookup(encoding)  # LookupError for an unknown encoding, before touching the file
    generator = _Generator(random.Random(seed), _fitter(encoding))
    with open(path, "w", encoding=encoding, newline="") as handle:
        writer = csv.writer(handle, delimiter=";", lineterminator="\n")
        writer.writerow(COLUMNS)
        for chunk in generator.chunks(rows):
            writer.writerows(chunk)
    return SampleSummary(
        rows=generator.rows,
        patients=generator.patients,
        requests=generator.requests,
        invalid_nir=generator.invalid_nir,
        invalid_dates=generator.invalid_dates,
    )
