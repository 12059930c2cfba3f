"""Apply a whole policy to one Arrow record batch (no Beam here).

A batch in gives the published rows, the rejected rows (index, column, reason: no
values) and flag counts. Each row is rejected for the first failing column in
policy order, so a row is counted once.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

from schemas.model import (
    KEYED_ACTIONS,
    ColumnRule,
    Encrypt,
    Fpe,
    Generalise,
    Keep,
    Policy,
    Tokenise,
)
from transforms.casting import OUTPUT_TYPES, cast_column
from transforms.fpe import derive_fpe_key
from transforms.keyring import Keyring
from transforms.operations import GENERALISE_OUTPUT_TYPES, generalise_apply
from transforms.operations import encrypt as encrypt_op
from transforms.operations import format_preserving as fpe_op
from transforms.operations import keep as keep_op
from transforms.operations import tokenise as tokenise_op
from transforms.operations.result import OperationResult
from transforms.siv import SivCipher
from transforms.tokeniser import Tokeniser

FPE_TWEAK = b""


def key_domain(domain: str, recipient: str | None) -> str:
    """The domain keys are derived for: the recipient, if any, is part of it."""
    return domain if recipient is None else f"{domain}@{recipient}"


def output_schema(policy: Policy) -> pa.Schema:
    """The typed schema of the published data, in the policy's output order."""
    types: dict[str, pa.DataType] = {}
    for rule in policy.columns:
        action = rule.action
        if isinstance(action, Keep):
            types[action.output] = OUTPUT_TYPES[rule.type]
        elif isinstance(action, KEYED_ACTIONS):
            types[action.output] = pa.string()
            if action.flag_output:
                types[action.flag_output] = pa.bool_()
        elif isinstance(action, Generalise):
            types[action.output] = GENERALISE_OUTPUT_TYPES[type(action.operation)]
    return pa.schema([pa.field(name, types[name]) for name in policy.outputs])


@dataclass
class AppliedBatch:
    data: pa.RecordBatch
    rejected_index: pa.Array  # int64 positions in the input batch
    rejected_column: pa.Array  # string: the column that failed (None for a whole record)
    rejected_reason: pa.Array  # string: reason code
    kept_index: pa.Array  # int64 positions of the published rows in the input batch
    flags: Counter = field(default_factory=Counter)  # (code, column) -> count


class PolicyApplier:
    """Holds the tokenisers (key material): build it where the key is, never pickle it."""

    def __init__(self, policy: Policy, keyring: Keyring):
        self.policy = policy
        self.schema = output_schema(policy)
        key = keyring.primary
        self._tokenisers: dict[str, Tokeniser] = {}
        self._ciphers: dict[str, SivCipher] = {}
        self._fpe_keys: dict[str, bytes] = {}
        for rule in policy.columns:
            action = rule.action
            if not isinstance(action, KEYED_ACTIONS):
                continue
            domain = key_domain(action.domain, policy.recipient)
            if isinstance(action, Tokenise) and domain not in self._tokenisers:
                self._tokenisers[domain] = Tokeniser(key, domain)
            elif isinstance(action, Encrypt):
                self._ciphers[rule.name] = SivCipher(key, domain, rule.name)
            elif isinstance(action, Fpe):
                self._fpe_keys[rule.name] = derive_fpe_key(key, domain)
        self._cast_columns = [policy.rule(name) for name in policy.read_columns]

    def __reduce__(self):
        raise TypeError("a PolicyApplier holds key material and must not be pickled")

    def apply(self, batch: pa.RecordBatch) -> AppliedBatch:
        count = batch.num_rows
        reasons: list[tuple[pa.Array, str, str]] = []  # (mask, column, code) in policy order
        typed: dict[str, pa.Array] = {}
        for rule in self._cast_columns:
            result = cast_column(_column(batch, rule.name), rule.type, self.policy.input)
            typed[rule.name] = result.values
            _collect(reasons, result, rule.name)

        outputs: dict[str, pa.Array] = {}
        flag_masks: list[tuple[pa.Array, str, str]] = []
        for rule in self.policy.columns:
            result = self._apply_rule(rule, typed)
            if result is None:
                continue
            outputs[rule.action.output] = result.values
            _collect(reasons, result, rule.name)
            if result.flagged is not None:
                flag_masks.append((result.flagged, rule.name, result.flag_code or "flagged"))
            if isinstance(rule.action, KEYED_ACTIONS) and rule.action.flag_output:
                no_flags = pa.repeat(pa.scalar(False), count)
                outputs[rule.action.flag_output] = (
                    result.flagged if result.flagged is not None else no_flags
                )

        reason_column, reason_code, rejected = _first_reasons(reasons, count)
        keep_mask = pc.invert(rejected)
        columns = [outputs[f.name].cast(f.type) for f in self.schema]
        if pc.any(rejected).as_py():
            columns = [pc.filter(column, keep_mask) for column in columns]
        data = pa.RecordBatch.from_arrays(columns, schema=self.schema)
        flags: Counter = Counter()
        for mask, column, code in flag_masks:
            flagged = pc.sum(pc.and_(mask, keep_mask)).as_py() or 0
            if flagged:
                flags[(code, column)] += flagged
        indices = pc.indices_nonzero(rejected)
        return AppliedBatch(
            kept_index=pc.indices_nonzero(keep_mask).cast(pa.int64()),
            data=data,
            rejected_index=indices.cast(pa.int64()),
            rejected_column=pc.take(reason_column, indices),
            rejected_reason=pc.take(reason_code, indices),
            flags=flags,
        )

    def _apply_rule(self, rule: ColumnRule, typed: dict[str, pa.Array]) -> OperationResult | None:
        action = rule.action
        if isinstance(action, Keep):
            return keep_op.apply(typed[rule.name], action)
        if isinstance(action, Tokenise):
            tokeniser = self._tokenisers[key_domain(action.domain, self.policy.recipient)]
            return tokenise_op.apply(typed[rule.name], action, tokeniser=tokeniser)
        if isinstance(action, Encrypt):
            return encrypt_op.apply(typed[rule.name], action, cipher=self._ciphers[rule.name])
        if isinstance(action, Fpe):
            key = self._fpe_keys[rule.name]
            return fpe_op.apply(typed[rule.name], action, key=key, tweak=FPE_TWEAK)
        if isinstance(action, Generalise):
            return generalise_apply(typed[rule.name], action.operation, typed)
        return None


def _column(batch: pa.RecordBatch, name: str) -> pa.Array:
    return batch.column(name)  # KeyError if the reader did not hand it over


def _collect(reasons: list, result: OperationResult, column: str) -> None:
    if result.rejected is not None:
        reasons.append((result.rejected, column, result.reject_code or "rejected"))


def _first_reasons(reasons: list, count: int) -> tuple[pa.Array, pa.Array, pa.Array]:
    """Per row: the column and code of its first failure, and whether it failed at all."""
    column = pa.nulls(count, pa.string())
    code = pa.nulls(count, pa.string())
    rejected = pa.repeat(pa.scalar(False), count)
    for mask, name, reason in reversed(reasons):
        column = pc.if_else(mask, pa.scalar(name), column)
        code = pc.if_else(mask, pa.scalar(reason), code)
        rejected = pc.or_(rejected, mask)
    return column, code, rejected
