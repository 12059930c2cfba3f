"""Re-identification of `encrypt` tokens by the lab, audited; HMAC tokens are irreversible.

Every call appends one JSON line to the audit log (who, when, which column, how many
tokens, which keys, the outcome), never a token or a value.
"""

from __future__ import annotations

import getpass
import json
import os
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone

from schemas.errors import InputError, PseudolabError, UsageError
from schemas.model import ColumnRule, Encrypt, Fpe, Policy, Tokenise
from transforms.keyring import ENV_PREFIX, Keyring
from transforms.policy_applier import key_domain
from transforms.siv import SivCipher, SivTokenError, token_key_id

AUDIT_ENV = "PSEUDOLAB_AUDIT_LOG"
AUDIT_NAME = "pseudolab-audit.jsonl"


def default_audit_log(keyring_source: str) -> str:
    """$PSEUDOLAB_AUDIT_LOG, else beside the keyring file (the source system)."""
    if os.environ.get(AUDIT_ENV):
        return os.environ[AUDIT_ENV]
    if keyring_source.startswith(ENV_PREFIX):
        return os.path.abspath(AUDIT_NAME)
    return os.path.join(os.path.dirname(os.path.abspath(keyring_source)), AUDIT_NAME)


def find_encrypt_rule(policy: Policy, column: str) -> ColumnRule:
    """The rule of an input or output column name; only `encrypt` rules qualify."""
    for rule in policy.columns:
        output = getattr(rule.action, "output", None)
        if column not in (rule.name, output):
            continue
        if isinstance(rule.action, Encrypt):
            return rule
        if isinstance(rule.action, Tokenise):
            raise UsageError(
                f"column '{column}' is tokenised with HMAC: irreversible by design;"
                " only encrypt columns can be re-identified"
            )
        if isinstance(rule.action, Fpe):
            raise UsageError(f"column '{column}' uses fpe; only encrypt columns are re-identified")
        raise UsageError(f"column '{column}' is not an encrypt column")
    raise UsageError(f"policy {policy.name} has no column '{column}'")


@dataclass
class AuditEntry:
    policy: Policy
    column: str
    tokens: int = 0
    key_ids: tuple[str, ...] = ()
    outcome: str = "started"

    def line(self) -> str:
        return json.dumps(
            {
                "time": datetime.now(timezone.utc).replace(microsecond=0).isoformat(),
                "user": getpass.getuser(),
                "host": socket.gethostname(),
                "command": "reidentify",
                "policy": {
                    "name": self.policy.name,
                    "version": self.policy.version,
                    "sha256": self.policy.sha256,
                },
                "column": self.column,
                "tokens": self.tokens,
                "key_ids": list(self.key_ids),
                "outcome": self.outcome,
            },
            ensure_ascii=False,
        )


def append_audit(path: str, entry: AuditEntry) -> None:
    descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    with os.fdopen(descriptor, "a", encoding="utf-8") as handle:
        handle.write(entry.line() + "\n")
        handle.flush()
        os.fsync(handle.fileno())


def reidentify(
    policy: Policy, keyring: Keyring, column: str, tokens: Iterable[str], audit_log: str
) -> list[str | None]:
    """Clear values of `tokens` (None for a blank line). Audited whatever the outcome."""
    entry = AuditEntry(policy, column)
    try:
        rule = find_encrypt_rule(policy, column)
        domain = key_domain(rule.action.domain, policy.recipient)
        ciphers: dict[str, SivCipher] = {}
        values: list[str | None] = []
        for number, raw in enumerate(tokens, start=1):
            token = raw.strip()
            if not token:
                values.append(None)
                continue
            entry.tokens += 1
            try:
                key_id = token_key_id(token)
            except SivTokenError:
                raise InputError("invalid-token", line=number, column=column) from None
            if key_id not in ciphers:
                ciphers[key_id] = SivCipher(keyring.key(key_id), domain, rule.name)
            try:
                values.append(ciphers[key_id].decrypt(token))
            except SivTokenError:
                raise InputError("invalid-token", line=number, column=column) from None
        entry.key_ids = tuple(sorted(ciphers))
        entry.outcome = "ok"
        return values
    except PseudolabError as error:
        entry.outcome = f"refused: {getattr(error, 'code', type(error).__name__)}"
        raise
    finally:
        append_audit(audit_log, entry)
