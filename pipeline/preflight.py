"""Everything checked before any data is read: policy, keyring, inputs and headers."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass

from pipeline.inputs import InputFile
from pipeline.readers import detect_format, read_header
from schemas.errors import InputError
from schemas.header import check_header
from schemas.loader import load_policy, shipped_policy_path
from schemas.model import Policy
from transforms.keyring import ENV_PREFIX, KeyringRef, load_keyring


@dataclass(frozen=True)
class Preflight:
    policy: Policy
    keyring_ref: KeyringRef
    inputs: tuple[InputFile, ...]
    encoding: str


def resolve_policy(policy: str) -> Policy:
    """A policy file path, or the name of a shipped policy such as `lab-export-v1`."""
    if os.path.exists(policy) or os.sep in policy or policy.endswith((".yaml", ".yml")):
        return load_policy(policy)
    return load_policy(shipped_policy_path(policy))


def expand_inputs(patterns: list[str], explicit_format: str | None) -> tuple[InputFile, ...]:
    """Paths and globs, each matching at least one file, in a stable order, no repeats."""
    seen: dict[str, InputFile] = {}
    for pattern in patterns:
        matches = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        matches = [path for path in matches if os.path.isfile(path)]
        if not matches:
            raise InputError("no-input", path=pattern)
        for path in matches:
            absolute = os.path.abspath(path)
            if absolute not in seen:
                seen[absolute] = InputFile(absolute, detect_format(path, explicit_format))
    return tuple(seen.values())


def check_inputs(policy: Policy, inputs: tuple[InputFile, ...], encoding: str) -> None:
    for source in inputs:
        header = read_header(
            source.path, source.format, delimiter=policy.input.delimiter, encoding=encoding
        )
        if source.format == "jsonl":
            # JSON Lines omit null fields: only undeclared keys are a file-level error.
            header = header + [name for name in policy.column_names if name not in header]
        check_header(policy, header, source.path)


def run_preflight(
    policy_name: str,
    input_patterns: list[str],
    keyring_path: str,
    explicit_format: str | None = None,
    encoding: str | None = None,
) -> Preflight:
    """Policy first (exit 2), then the keyring (exit 2), then every input header (exit 3)."""
    policy = resolve_policy(policy_name)
    keyring = load_keyring(keyring_path)
    location = (
        keyring_path if keyring_path.startswith(ENV_PREFIX) else os.path.abspath(keyring_path)
    )
    keyring_ref = KeyringRef(location, keyring.primary_id)
    chosen_encoding = encoding or policy.input.encoding
    inputs = expand_inputs(input_patterns, explicit_format)
    check_inputs(policy, inputs, chosen_encoding)
    return Preflight(policy, keyring_ref, inputs, chosen_encoding)
