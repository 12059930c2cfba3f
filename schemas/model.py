"""Typed, frozen policy model. Built only by `schemas.loader`, which validates it fully."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

ColumnType = Literal["string", "integer", "number", "date", "datetime"]
COLUMN_TYPES: tuple[str, ...] = ("string", "integer", "number", "date", "datetime")

Normaliser = Literal["nir", "name", "email", "digits", "exact"]
NORMALISERS: tuple[str, ...] = ("nir", "name", "email", "digits", "exact")

InvalidPolicy = Literal["reject", "null"]


@dataclass(frozen=True)
class Keep:
    output: str


@dataclass(frozen=True)
class Drop:
    pass


@dataclass(frozen=True)
class Tokenise:
    output: str
    normaliser: Normaliser
    domain: str
    # What a value the normaliser refuses (an invalid NIR) gets: the row goes to
    # rejected/ ("reject"), or a null token is published and counted ("null").
    on_invalid: InvalidPolicy = "null"
    # Optional boolean output column set to true where the value was refused.
    flag_output: str | None = None


@dataclass(frozen=True)
class Encrypt:
    """Deterministic, reversible AES-SIV token of the normalised value."""

    output: str
    normaliser: Normaliser
    domain: str
    on_invalid: InvalidPolicy = "null"
    flag_output: str | None = None


FpeFormat = Literal["digits", "nir"]
FPE_FORMATS: tuple[str, ...] = ("digits", "nir")


@dataclass(frozen=True)
class Fpe:
    """Format-preserving encryption (FF1): digits stay digits, a NIR stays NIR-shaped."""

    output: str
    format: FpeFormat
    domain: str
    on_invalid: InvalidPolicy = "null"
    flag_output: str | None = None


@dataclass(frozen=True)
class Year:
    pass


@dataclass(frozen=True)
class YearMonth:
    pass


@dataclass(frozen=True)
class AgeBand:
    reference: str  # input column holding the date the age is computed at
    width: int = 5
    top: int = 90  # ages >= top become "<top>+"


@dataclass(frozen=True)
class Departement:
    pass


@dataclass(frozen=True)
class Prefix:
    length: int


@dataclass(frozen=True)
class Bucket:
    width: float
    top: float | None = None  # values >= top become ">=top"


Operation = Year | YearMonth | AgeBand | Departement | Prefix | Bucket

# Operation name in the policy -> (class, input types it accepts).
OPERATIONS: dict[str, tuple[type, tuple[str, ...]]] = {
    "year": (Year, ("date", "datetime")),
    "year_month": (YearMonth, ("date", "datetime")),
    "age_band": (AgeBand, ("date", "datetime")),
    "departement": (Departement, ("string",)),
    "prefix": (Prefix, ("string",)),
    "bucket": (Bucket, ("integer", "number")),
}


@dataclass(frozen=True)
class Generalise:
    output: str
    operation: Operation


Action = Keep | Drop | Tokenise | Generalise | Encrypt | Fpe
KeyedAction = Tokenise | Encrypt | Fpe
KEYED_ACTIONS: tuple[type, ...] = (Tokenise, Encrypt, Fpe)

_ACTION_NAMES: dict[type, str] = {
    Keep: "keep",
    Drop: "drop",
    Tokenise: "tokenise",
    Generalise: "generalise",
    Encrypt: "encrypt",
    Fpe: "fpe",
}


def action_name(action: Action) -> str:
    return _ACTION_NAMES[type(action)]


@dataclass(frozen=True)
class ColumnRule:
    name: str
    type: ColumnType
    action: Action
    line: int  # line of the column's entry in the policy file


@dataclass(frozen=True)
class InputFormat:
    delimiter: str = ";"
    encoding: str = "utf-8"
    date_format: str = "%d/%m/%Y"
    datetime_format: str = "%d/%m/%Y %H:%M"
    decimal: str = ","


ViolationStrategy = Literal["fail", "suppress", "generalise"]
VIOLATION_STRATEGIES: tuple[str, ...] = ("fail", "suppress", "generalise")


SUPPRESSED = "suppressed"  # the last step of any quasi-identifier's hierarchy


def producing_operation(rules: Iterable[ColumnRule], output: str) -> Operation | None:
    """The generalise operation that makes output column `output`, if any."""
    for rule in rules:
        if isinstance(rule.action, Generalise) and rule.action.output == output:
            return rule.action.operation
    return None


@dataclass(frozen=True)
class GeneraliseStep:
    """One step up a quasi-identifier's hierarchy: `column` (an output) becomes `to`.

    `to` is a wider band width for age bands ("10"), "region" for départements,
    "quarter" or "year" for months, or "suppressed" for any quasi-identifier.
    """

    column: str
    to: str


@dataclass(frozen=True)
class PrivacyTargets:
    subject: str  # output column whose distinct values are the people counted
    quasi_identifiers: tuple[str, ...]
    k: int
    on_violation: ViolationStrategy = "fail"
    max_suppressed_share: float = 0.05  # of subjects; above it the run fails
    sensitive: tuple[str, ...] = ()
    l: int | None = None  # noqa: E741 - the name of the measure
    steps: tuple[GeneraliseStep, ...] = ()


@dataclass(frozen=True)
class Policy:
    name: str
    version: str
    source: str  # path of the policy file, for messages
    sha256: str  # of the policy file's bytes
    input: InputFormat
    columns: tuple[ColumnRule, ...]
    outputs: tuple[str, ...]
    description: str = ""
    privacy: PrivacyTargets | None = None
    # Tokens for different recipients differ: the recipient enters every key derivation.
    recipient: str | None = None

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(rule.name for rule in self.columns)

    @property
    def read_columns(self) -> tuple[str, ...]:
        """The input columns whose values the policy uses, in policy order: every column
        not dropped, and dropped ones an age band computes from. Readers convert only these."""
        referenced = {
            rule.action.operation.reference
            for rule in self.columns
            if isinstance(rule.action, Generalise) and isinstance(rule.action.operation, AgeBand)
        }
        return tuple(
            rule.name
            for rule in self.columns
            if not isinstance(rule.action, Drop) or rule.name in referenced
        )

    def rule(self, name: str) -> ColumnRule:
        for rule in self.columns:
            if rule.name == name:
                return rule
        raise KeyError(name)
