"""What the baseline and the peers share: the reference policy written out by hand.

The shipped `lab-export-v1` policy, column by column, as a hand-written script would
hold it (`run_bench.py` checks these lists against the shipped YAML, so the bench fails
loudly if the policy changes), and the documented token formula, computed with the
standard library only (no pseudolab import):

    domain key = HKDF-SHA256(ikm = secret, salt = none, info = "pseudolab/v1/token/<domain>")
    token      = base32(HMAC-SHA256(domain key, utf-8(normalised value))[:15]).lower()
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import pyarrow as pa

INFO_PREFIX = b"pseudolab/v1/token/"
TOKEN_BYTES = 15

# (input column, domain, normaliser, output column), in policy order.
TOKENISED = (
    ("numero_dossier", "dossier", "exact", "dossier_token"),
    ("ipp_patient", "patient", "exact", "patient_token"),
    ("nir", "patient", "nir", "nir_token"),
    ("medecin_prescripteur_rpps", "prescripteur", "digits", "prescripteur_token"),
)
NIR_FLAG = "nir_invalide"
KEPT = (
    "sexe",
    "laboratoire_finess",
    "code_analyse_local",
    "code_loinc",
    "libelle_analyse",
    "resultat_valeur",
    "resultat_unite",
    "valeurs_reference",
    "indicateur_anormal",
)
BIRTH = "date_naissance"  # date %d/%m/%Y -> 5-year age band at SAMPLED, 90+
SAMPLED = "date_prelevement"  # datetime %d/%m/%Y %H:%M -> "YYYY-MM"
RESIDENCE = "commune_residence_insee"  # INSEE commune code -> département
GENERALISED = {BIRTH: "classe_age", RESIDENCE: "departement_residence", SAMPLED: "mois_prelevement"}
DROPPED = (
    "nom_naissance",
    "nom_usage",
    "prenoms",
    "commune_naissance_insee",
    "adresse",
    "code_postal",
    "ville",
    "telephone",
    "email",
    "code_caisse_amo",
    "mutuelle_nom",
    "mutuelle_numero_adherent",
    "medecin_prescripteur_nom",
    "medecin_prescripteur_cp",
    "preleveur",
    "date_validation",
    "groupe_sanguin",
    "renseignements_cliniques",
    "commentaire_resultat",
    "identifiant_portail",
    "mot_de_passe_portail",
)
OUTPUT = (
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
OUTPUT_SCHEMA = pa.schema(
    [pa.field(name, pa.bool_() if name == NIR_FLAG else pa.string()) for name in OUTPUT]
)
#: Input columns a hand-written script needs (the dropped ones are never read).
NEEDED = tuple(dict.fromkeys([c[0] for c in TOKENISED] + [*KEPT, BIRTH, SAMPLED, RESIDENCE]))
#: Rejected rows: the 1-based record number, the column that failed, the reason code.
REJECTED_SCHEMA = pa.schema(
    [("source_row", pa.int64()), ("column", pa.string()), ("reason", pa.string())]
)

AGE_WIDTH, AGE_TOP = 5, 90
AGE_LABELS = (
    *(f"{low}-{low + AGE_WIDTH - 1}" for low in range(0, AGE_TOP, AGE_WIDTH)),
    f"{AGE_TOP}+",
)
MIN_YEAR, MAX_YEAR = 1850, 2200
DATE_SHAPE = r"^[0-9]{2}/[0-9]{2}/[0-9]{4}$"
DATETIME_SHAPE = r"^[0-9]{2}/[0-9]{2}/[0-9]{4} [0-9]{2}:[0-9]{2}$"
# NIR: upper case, spaces/dots/dashes removed, layout, optional mod-97 key (2A=19, 2B=18).
NIR_SEPARATORS = r"[\s.\-]"
NIR_PATTERN = (
    r"^[12][0-9]{2}(0[1-9]|1[0-2]|[2-9][0-9])(0[1-9]|[1-8][0-9]|9[0-5]|2A|2B|97|98|99)"
    r"[0-9]{3}[0-9]{3}([0-9]{2})?$"
)
INSEE_SHAPE = r"^([0-9]{5}|2[AB][0-9]{3})$"
INSEE_NONE = r"^(00|20|96)"


def read_secret(keyring_path: str) -> bytes:
    """The primary key's 32-byte secret from a pseudolab keyring file."""
    with open(keyring_path, encoding="utf-8") as handle:
        keyring = json.load(handle)
    (entry,) = [k for k in keyring["keys"] if k["id"] == keyring["primary"]]
    return base64.b64decode(entry["secret"])


def domain_key(secret: bytes, domain: str) -> bytes:
    """HKDF-SHA256 (RFC 5869) with no salt and one 32-byte output block."""
    prk = hmac.new(b"\0" * 32, secret, hashlib.sha256).digest()
    return hmac.new(prk, INFO_PREFIX + domain.encode() + b"\x01", hashlib.sha256).digest()


class PrekeyedHmac:
    """HMAC-SHA256 with the key's inner and outer states computed once, copied per value."""

    def __init__(self, key: bytes):
        padded = key.ljust(64, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def digests(self, values: list[bytes]) -> bytes:
        """Truncated digests, concatenated: base32 of the whole is the tokens, 24 chars each."""
        inner, outer = self._inner, self._outer
        out = bytearray()
        for value in values:
            hashed = inner.copy()
            hashed.update(value)
            wrapped = outer.copy()
            wrapped.update(hashed.digest())
            out += wrapped.digest()[:TOKEN_BYTES]
        return bytes(out)


def plain_token(key: bytes, text: str) -> str:
    """One token the way a typical script writes it: `hmac.new` per value."""
    digest = hmac.new(key, text.encode("utf-8"), hashlib.sha256).digest()[:TOKEN_BYTES]
    return base64.b32encode(digest).decode("ascii").lower()


def nir_body(value: str) -> str | None:
    """The 13-character body of a valid NIR, None if invalid (per value, for the peers)."""
    import re

    cleaned = re.sub(NIR_SEPARATORS, "", value.upper())
    if not re.match(NIR_PATTERN, cleaned):
        return None
    body = cleaned[:13]
    if len(cleaned) == 15:
        number = int(body.replace("2A", "19").replace("2B", "18"))
        if 97 - number % 97 != int(cleaned[13:]):
            return None
    return body


def departement(value: str) -> tuple[str | None, bool]:
    """(département or None, flagged) of one INSEE commune code (per value, for the peers)."""
    import re

    code = value.strip().upper()
    if not code:
        return None, False
    if not re.match(INSEE_SHAPE, code) or re.match(INSEE_NONE, code):
        return None, True
    return (code[:3] if code[:2] in ("97", "98") else code[:2]), False


def report(**fields) -> None:
    """The child's one line of results for run_bench.py (stdout, JSON)."""
    print("BENCH " + json.dumps(fields), flush=True)


class Clock:
    """Work time inside the child, from after the imports to the end."""

    def __init__(self):
        self.start = time.perf_counter()

    def elapsed(self) -> float:
        return round(time.perf_counter() - self.start, 3)
