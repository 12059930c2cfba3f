"""Error types and the catalogue of stable reason codes.

Definition errors (policy, keyring, usage) are kept apart from data errors (input
files and rows). Every message names files, lines, columns and codes, never a cell
value or key material.
"""

from __future__ import annotations

from dataclasses import dataclass

# Reason code -> one-line message template. Codes are stable: reports, rejected rows
# and scripts downstream rely on them. The README lists them.
POLICY_REASONS: dict[str, str] = {
    "policy-unreadable": "the policy file cannot be read",
    "policy-syntax": "the policy is not valid YAML",
    "policy-too-large": "the policy file exceeds the size or nesting limit",
    "unsupported-yaml": "{feature} is not allowed in a policy (no anchors, aliases or tags)",
    "missing-field": "required field '{field}' is missing",
    "unknown-field": "field '{field}' is not part of the policy format",
    "invalid-value": "field '{field}' {reason}",
    "duplicate-column": "column '{column}' is declared more than once",
    "unknown-type": "column '{column}' has unknown type '{value}'",
    "unknown-action": "column '{column}' has unknown action '{value}'",
    "unknown-normaliser": "column '{column}' has unknown normaliser '{value}'",
    "unknown-operation": "column '{column}' has unknown operation '{value}'",
    "unknown-format": "column '{column}' has unknown fpe format '{value}' (digits or nir)",
    "type-mismatch": "operation '{value}' does not apply to column '{column}' of type {type}",
    "unknown-reference": "column '{column}' refers to '{value}', not a declared date column",
    "duplicate-output": "output column '{column}' is produced more than once",
    "output-not-produced": "output column '{column}' is listed but no rule produces it",
    "output-not-listed": "column '{column}' is produced but not listed in output.columns",
}

INPUT_REASONS: dict[str, str] = {
    "no-input": "no file matches '{path}'",
    "unreadable-input": "{path} cannot be read as {format}: {reason}",
    "empty-input": "{path} has no data (no header row, or no row after it)",
    "unknown-column": "{path}: column '{column}' is not named in the policy",
    "missing-column": "{path}: column '{column}' declared in the policy is missing",
    "duplicate-header": "{path}: column '{column}' appears more than once in the header",
    "invalid-token": "the token on line {line} is not a valid '{column}' token for this keyring",
}

KEY_REASONS: dict[str, str] = {
    "keyring-missing": "keyring {path} does not exist or is not set",
    "keyring-permissions": "keyring {path} is open to group or others (mode {mode}): chmod 600",
    "keyring-invalid": "keyring {path} is not a valid pseudolab keyring: {reason}",
    "keyring-weak-key": "keyring {path}: key '{key_id}' is not 32 random bytes",
    "keyring-primary": "keyring {path}: {reason}",
    "keyring-destroyed": "keyring {path}: key '{key_id}' was destroyed: what it made stays sealed",
    "keyring-unknown-key": "keyring {path} has no key '{key_id}'",
}

# Row-level reasons, written to rejected/ with the file and row, never the values.
ROW_REASONS: dict[str, str] = {
    "wrong-field-count": "the row does not have as many fields as the header",
    "invalid-encoding": "a field is not valid text in the declared encoding",
    "invalid-json": "the line is not a JSON object",
    "unknown-column": "the record holds a field the policy does not name",
    "invalid-date": "a date field does not match the declared format or is not a real date",
    "invalid-datetime": "a date-time field does not match the declared format",
    "invalid-integer": "a field declared integer is not an integer",
    "invalid-number": "a field declared number is not a number",
    "invalid-nir": "the NIR fails validation and the policy rejects such rows",
    "empty-after-normalisation": "a tokenised value is empty once normalised (policy: reject)",
    "too-short-for-fpe": "fewer than 6 digits to encrypt with fpe (policy: reject)",
    "birth-after-reference": "the birth date is after the reference date",
}

# Counted in the report, the row is kept with a null in the derived column.
FLAG_REASONS: dict[str, str] = {
    "invalid-nir": "NIR failed validation: null token published",
    "invalid-insee-code": "not an INSEE commune code: null département published",
    "empty-after-normalisation": "value empty once normalised: null token published",
    "too-short-for-fpe": "fewer than 6 digits for fpe: null published",
}


class PseudolabError(Exception):
    """Base of every refusal the CLI turns into an exit code and one line."""

    exit_code = 1


class UsageError(PseudolabError):
    exit_code = 2


@dataclass(frozen=True)
class PolicyProblem:
    source: str
    line: int
    code: str
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: {self.code}: {self.message}"


class PolicyError(PseudolabError):
    """All the problems found in one policy, reported together."""

    exit_code = 2

    def __init__(self, problems: list[PolicyProblem]):
        self.problems = sorted(problems, key=lambda p: (p.line, p.code))
        super().__init__("\n".join(str(p) for p in self.problems))


class KeyringError(PseudolabError):
    exit_code = 2

    def __init__(self, code: str, **fields: object):
        self.code = code
        super().__init__(f"{code}: " + KEY_REASONS[code].format(**fields))


class InputError(PseudolabError):
    exit_code = 3

    def __init__(self, code: str, **fields: object):
        self.code = code
        super().__init__(f"{code}: " + INPUT_REASONS[code].format(**fields))


class PublicationRefused(PseudolabError):
    exit_code = 4


def policy_problem(source: str, line: int, code: str, **fields: object) -> PolicyProblem:
    return PolicyProblem(source, line, code, POLICY_REASONS[code].format(**fields))
