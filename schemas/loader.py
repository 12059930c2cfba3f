"""Load a policy file and validate it fully into the frozen model of `schemas.model`.

Every problem is collected, each at the line of the offending key or value, and all
are reported together in one PolicyError. Messages quote field, column and operation
names, never values. The YAML is parsed safely and within limits (`schemas.yaml_nodes`).
"""

from __future__ import annotations

import codecs
import hashlib
import os
import re
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from yaml.nodes import MappingNode, Node, ScalarNode

from schemas.errors import PolicyError, policy_problem
from schemas.model import (
    COLUMN_TYPES,
    FPE_FORMATS,
    NORMALISERS,
    OPERATIONS,
    Action,
    AgeBand,
    Bucket,
    ColumnRule,
    Drop,
    Encrypt,
    Fpe,
    Generalise,
    InputFormat,
    Keep,
    KeyedAction,
    Operation,
    Policy,
    Prefix,
    Tokenise,
)
from schemas.privacy_loader import privacy_targets
from schemas.yaml_nodes import (
    FLOAT_TAG,
    INT_TAG,
    MAX_BYTES,
    NULL_TAG,
    STR_TAG,
    Fields,
    Problems,
    compose,
    keyword,
    line_of,
    mapping,
    qualified,
    sequence,
    text,
    word,
)

FORMAT_VERSION = 1
MAX_COLUMNS = 2000

POLICY_NAME = re.compile(r"[a-z0-9][a-z0-9._-]*")
POLICY_VERSION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._+-]{0,63}")
COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
DOMAIN = re.compile(r"[a-z][a-z0-9_-]*")
_ON_INVALID = re.compile(r"reject|null")
_DIRECTIVE = re.compile(r"%[aAbBdfHIjmMpSyYzZ%]")

_NAME_REASON = (
    "must be lower-case letters, digits, '.', '_' or '-', starting with a letter or digit"
)
_VERSION_REASON = "must be a version such as 1.0.0 (letters, digits, '.', '_', '+', '-')"
_COLUMN_REASON = "must be a column name (letters, digits and '_', not starting with a digit)"
_DOMAIN_REASON = "must be lower-case letters, digits, '_' or '-', starting with a letter"
_ENCODING_REASON = "must name a text encoding Python knows (e.g. utf-8, cp1252)"

TOP_FIELDS = (
    "pseudolab_policy",
    "name",
    "version",
    "description",
    "input",
    "columns",
    "output",
    "privacy",
    "recipient",
)
INPUT_FIELDS = ("delimiter", "encoding", "date_format", "datetime_format", "decimal")
COLUMN_FIELDS = ("name", "type", "action")
ACTION_FIELDS: dict[str, tuple[str, ...]] = {
    "keep": ("as",),
    "drop": (),
    "tokenise": ("normaliser", "domain", "on_invalid", "flag_as", "as"),
    "generalise": ("operation", "as"),
    "encrypt": ("normaliser", "domain", "on_invalid", "flag_as", "as"),
    "fpe": ("format", "domain", "on_invalid", "flag_as", "as"),
}
KEYED = ("tokenise", "encrypt", "fpe")
OPERATION_FIELDS: dict[str, tuple[str, ...]] = {
    "year": (),
    "year_month": (),
    "age_band": ("reference", "width", "top"),
    "departement": (),
    "prefix": ("length",),
    "bucket": ("width", "top"),
}
_ANY_OPERATION_FIELD = tuple(sorted(set().union(*OPERATION_FIELDS.values())))
_ANY_COLUMN_FIELD = COLUMN_FIELDS + tuple(sorted(set().union(*ACTION_FIELDS.values())))


def _shipped_names() -> tuple[str, ...]:
    folder = resources.files("schemas.policies")
    names = (item.name.removesuffix(".yaml") for item in folder.iterdir())
    return tuple(sorted(name for name in names if POLICY_NAME.fullmatch(name)))


SHIPPED_POLICIES: tuple[str, ...] = _shipped_names()


def shipped_policy_path(name: str) -> Path:
    """Path of the policy shipped with pseudolab as `name` (e.g. "lab-export-v1")."""
    resource = resources.files("schemas.policies").joinpath(f"{name}.yaml")
    if not POLICY_NAME.fullmatch(name) or not resource.is_file():
        raise PolicyError([policy_problem(word(name) or "''", 0, "policy-unreadable")])
    return Path(str(resource))


def load_policy(path: str | os.PathLike[str]) -> Policy:
    """Read and validate the policy file at `path`."""
    source = os.fspath(path)
    data = None
    try:
        with open(source, "rb") as handle:
            data = handle.read(MAX_BYTES + 1)
    except (OSError, ValueError):
        pass
    if data is None:  # raised here, not in the except block: no context to carry
        raise PolicyError([policy_problem(source, 0, "policy-unreadable")])
    return load_policy_bytes(data, source)


def load_policy_bytes(data: bytes, source: str) -> Policy:
    """Validate a policy given as the bytes of its file (UTF-8)."""
    if len(data) > MAX_BYTES:
        raise PolicyError([policy_problem(source, 0, "policy-too-large")])
    # The decode error holds the whole file: the PolicyError is raised outside the except
    # block, so that the error carries it neither as cause nor as context.
    line = None
    try:
        decoded = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
    if line is not None:
        raise PolicyError([policy_problem(source, line, "policy-syntax")])
    return _load(decoded, source, hashlib.sha256(data).hexdigest())


def load_policy_text(text: str, source: str) -> Policy:
    """Validate a policy given as text; `source` names it in messages."""
    data = text.encode("utf-8", "surrogatepass")
    return _load(text, source, hashlib.sha256(data).hexdigest())


def _load(document: str, source: str, sha256: str) -> Policy:
    problems = Problems(source)
    root = compose(document, problems)
    if not isinstance(root, MappingNode):
        line = 1 if root is None else line_of(root)
        problems.add(line, "invalid-value", field="policy", reason="must be a mapping of fields")
        raise problems.error()
    top = Fields(root, problems)
    top.reject_unknown(TOP_FIELDS)
    format_node = top.require("pseudolab_policy")
    if format_node is not None and not (
        isinstance(format_node, ScalarNode)
        and format_node.tag == INT_TAG
        and format_node.value == str(FORMAT_VERSION)
    ):
        problems.invalid(format_node, "pseudolab_policy", f"must be {FORMAT_VERSION}")
    name = top.pattern("name", POLICY_NAME, _NAME_REASON, required=True)
    version = _version(top.require("version"), problems)
    description_node = top.get("description")
    description = ""
    if description_node is not None and description_node.tag != NULL_TAG:
        description = (text(description_node, problems, "description") or "").strip()
    input_format = _input_format(top.get("input"), problems)
    entries = _columns(top.require("columns"), problems)
    outputs = _outputs(top.require("output"), entries, problems)
    recipient = top.pattern("recipient", POLICY_NAME, _NAME_REASON)
    rules = tuple(entry.rule for entry in entries if entry.rule is not None) if entries else ()
    privacy_node = top.get("privacy")
    privacy = privacy_targets(privacy_node, problems, rules, outputs) if privacy_node else None
    if problems.items or name is None or version is None or entries is None:
        raise problems.error()
    return Policy(
        name, version, source, sha256, input_format, rules, outputs, description, privacy, recipient
    )


def _version(node: Node | None, problems: Problems) -> str | None:
    """The policy's version as written; a number is kept as its text."""
    if node is None:
        return None
    if (
        isinstance(node, ScalarNode)
        and node.tag in (STR_TAG, INT_TAG, FLOAT_TAG)
        and POLICY_VERSION.fullmatch(node.value)
    ):
        return node.value
    problems.invalid(node, "version", _VERSION_REASON)
    return None


def _input_format(node: Node | None, problems: Problems) -> InputFormat:
    fields = mapping(node, problems, "input")
    if fields is None:
        return InputFormat()
    fields.reject_unknown(INPUT_FIELDS)
    values: dict[str, str] = {}
    for key in INPUT_FIELDS:
        value = fields.text(key)
        reason = None if value is None else _input_problem(key, value)
        value_node = fields.get(key)
        if reason is not None and value_node is not None:
            problems.invalid(value_node, fields.field(key), reason)
        elif value is not None:
            values[key] = value
    return InputFormat(**values)


def _input_problem(key: str, value: str) -> str | None:
    """Why `value` does not suit input field `key`, or None."""
    if key == "delimiter" and (len(value) != 1 or value in '"\r\n'):
        return "must be one character, not a quote or a line break"
    if key == "decimal" and value not in (",", "."):
        return "must be ',' or '.'"
    if key == "encoding":
        try:
            info = codecs.lookup(value)
        except (LookupError, ValueError, TypeError):
            return _ENCODING_REASON
        if not getattr(info, "_is_text_encoding", True):
            return _ENCODING_REASON
    if key in ("date_format", "datetime_format"):
        rest = _DIRECTIVE.sub("", value)
        if len(value) > 64 or rest == value or "%" in rest or not value.isprintable():
            return "must be a short strptime format such as %d/%m/%Y"
    return None


@dataclass
class _Entry:
    """One column entry as read, with what the cross-checks need."""

    name: str | None = None
    name_node: Node | None = None
    type: str | None = "string"  # None when the declared type is unknown
    rule: ColumnRule | None = None
    produced: list[tuple[str, Node]] = field(default_factory=list)
    outputs_known: bool = True  # False when an output name could not be read
    reference: tuple[str, Node] | None = None


def _columns(node: Node | None, problems: Problems) -> list[_Entry] | None:
    items = sequence(node, problems, "columns")
    if node is None or items is None:
        return None
    if not items:
        problems.invalid(node, "columns", "must list at least one column")
    if len(items) > MAX_COLUMNS:
        problems.add(line_of(node), "policy-too-large")
        return None
    entries = [_column(item, index, problems) for index, item in enumerate(items)]
    declared: dict[str, _Entry] = {}
    for entry in entries:
        if entry.name is not None and entry.name_node is not None:
            if entry.name in declared:
                problems.add(line_of(entry.name_node), "duplicate-column", column=word(entry.name))
            declared.setdefault(entry.name, entry)
    for entry in entries:
        if entry.reference is None or entry.name is None:
            continue
        reference, where = entry.reference
        target = declared.get(reference)
        if reference == entry.name:
            problems.invalid(where, qualified(entry.name, "reference"), "must name another column")
        elif target is None or target.type not in ("date", "datetime", None):
            column, value = word(entry.name), keyword(reference, declared)
            problems.add(line_of(where), "unknown-reference", column=column, value=value)
    return entries


def _column(node: Node, index: int, problems: Problems) -> _Entry:
    """Read one column entry; its rule is built only if it has no problem of its own."""
    entry = _Entry()
    label = f"columns[{index}]"
    fields = mapping(node, problems, label)
    if fields is None:
        entry.outputs_known = False
        return entry
    before = len(problems)
    entry.name = fields.pattern("name", COLUMN_NAME, _COLUMN_REASON, required=True)
    entry.name_node = fields.get("name")
    if entry.name is not None:
        label = word(entry.name)
        fields.label = label
    if fields.get("type") is not None:
        entry.type = fields.choice("type", COLUMN_TYPES, "unknown-type", label)
    action = fields.choice("action", ACTION_FIELDS, "unknown-action", label, required=True)
    if action is None:
        fields.reject_unknown(_ANY_COLUMN_FIELD + _ANY_OPERATION_FIELD)
        entry.outputs_known = False
        return entry
    allowed = COLUMN_FIELDS + ACTION_FIELDS[action]
    operation = None
    if action == "generalise":
        operation = fields.choice("operation", OPERATIONS, "unknown-operation", label, True)
        allowed += OPERATION_FIELDS[operation] if operation else _ANY_OPERATION_FIELD
    fields.reject_unknown(allowed)
    _check_type(fields, entry, label, "tokenise" if action in KEYED else operation)
    output = None if action == "drop" else _output(fields, entry)
    built: Action | None = None
    if action == "drop":
        built = Drop()
    elif action == "keep" and output is not None:
        built = Keep(output)
    elif action in KEYED:
        built = _keyed(action, fields, entry, label, output)
    elif operation is not None:
        built_operation = _operation(operation, fields, entry)
        if output is not None and built_operation is not None:
            built = Generalise(output, built_operation)
    if len(problems) == before and entry.name and entry.type and built is not None:
        entry.rule = ColumnRule(entry.name, entry.type, built, fields.line)  # type: ignore[arg-type]
    return entry


def _check_type(fields: Fields, entry: _Entry, label: str, operation: str | None) -> None:
    """type-mismatch unless `operation` (tokenise counts as one) accepts the column's type."""
    if operation is None or entry.type is None:
        return
    accepted = ("string",) if operation == "tokenise" else OPERATIONS[operation][1]
    if entry.type not in accepted:
        node = fields.get("action" if operation == "tokenise" else "operation") or fields.node
        fields.problems.add(
            line_of(node), "type-mismatch", value=operation, column=label, type=entry.type
        )


def _output(fields: Fields, entry: _Entry) -> str | None:
    """The output column of a keep, tokenise or generalise rule: `as`, else the name."""
    node = fields.get("as")
    if node is None:
        if entry.name is None or entry.name_node is None:
            entry.outputs_known = False
            return None
        entry.produced.append((entry.name, entry.name_node))
        return entry.name
    output = fields.pattern("as", COLUMN_NAME, _COLUMN_REASON)
    if output is None:
        entry.outputs_known = False
    else:
        entry.produced.append((output, node))
    return output


def _keyed(
    action: str, fields: Fields, entry: _Entry, label: str, output: str | None
) -> KeyedAction | None:
    """A tokenise, encrypt or fpe rule: a normaliser (or FPE format), a domain, options."""
    if action == "fpe":
        kind = fields.choice("format", FPE_FORMATS, "unknown-format", label, True)
    else:
        kind = fields.choice("normaliser", NORMALISERS, "unknown-normaliser", label, True)
    domain = fields.pattern("domain", DOMAIN, _DOMAIN_REASON, required=True)
    on_invalid: str | None = "null"
    on_invalid_node = fields.get("on_invalid")
    if on_invalid_node is not None and on_invalid_node.tag != NULL_TAG:  # unquoted null: default
        on_invalid = fields.pattern("on_invalid", _ON_INVALID, "must be reject or null")
    flag_node = fields.get("flag_as")
    flag = fields.pattern("flag_as", COLUMN_NAME, _COLUMN_REASON)
    if flag_node is not None and flag is None:
        entry.outputs_known = False
        return None
    if flag is not None and flag_node is not None:
        entry.produced.append((flag, flag_node))
    if output is None or kind is None or domain is None or on_invalid is None:
        return None
    built = {"tokenise": Tokenise, "encrypt": Encrypt, "fpe": Fpe}[action]
    return built(output, kind, domain, on_invalid, flag)  # type: ignore[arg-type]


def _operation(name: str, fields: Fields, entry: _Entry) -> Operation | None:
    """The generalise operation `name` with its parameters, or None if any is wrong."""
    if name == "age_band":
        reference = fields.text("reference", required=True)
        reference_node = fields.get("reference")
        if reference is not None and reference_node is not None:
            entry.reference = (reference, reference_node)
        width = fields.integer("width", 1, 50, default=5)
        top = fields.integer("top", 1, 150, default=90)
        if reference is None or width is None or top is None:
            return None
        return AgeBand(reference, width, top)
    if name == "prefix":
        length = fields.integer("length", 1, None, default=None)
        return None if length is None else Prefix(length)
    if name == "bucket":
        width = fields.number("width", positive=True, required=True)
        top = fields.number("top", positive=False, required=False)
        if width is None or (fields.get("top") is not None and top is None):
            return None
        return Bucket(width, top)
    return OPERATIONS[name][0]()


def _outputs(
    node: Node | None, entries: list[_Entry] | None, problems: Problems
) -> tuple[str, ...]:
    """output.columns, checked against the outputs the column rules produce."""
    fields = mapping(node, problems, "output")
    if fields is None:
        return ()
    fields.reject_unknown(("columns",))
    list_node = fields.require("columns")
    items = sequence(list_node, problems, "output.columns")
    if list_node is None or items is None:
        return ()
    if not items:
        problems.invalid(list_node, "output.columns", "must list at least one column")
    # A listed name is quoted only if a rule produces it or nearly (a typo).
    vocabulary = {output for entry in entries or () for output, _ in entry.produced}
    listed: dict[str, Node] = {}
    for item in items:
        name = text(item, problems, "output.columns")
        if name is not None and not COLUMN_NAME.fullmatch(name):
            problems.invalid(item, "output.columns", _COLUMN_REASON)
        elif name is not None and name in listed:
            shown = keyword(name, vocabulary)
            problems.invalid(item, "output.columns", f"lists '{shown}' more than once")
        elif name is not None:
            listed[name] = item
    if entries is None:
        return tuple(listed)
    produced: dict[str, Node] = {}
    for entry in entries:
        for output, output_node in entry.produced:
            if output in produced:
                problems.add(line_of(output_node), "duplicate-output", column=word(output))
            produced.setdefault(output, output_node)
    if all(entry.outputs_known for entry in entries):
        for name, item in listed.items():
            if name not in produced:
                shown = keyword(name, vocabulary)
                problems.add(line_of(item), "output-not-produced", column=shown)
    for output, output_node in produced.items():
        if output not in listed:
            problems.add(line_of(output_node), "output-not-listed", column=word(output))
    return tuple(listed)
