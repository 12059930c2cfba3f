"""Safe YAML for policies: bounded parsing into nodes, and readers over those nodes.

Nothing here constructs Python objects from YAML. The text is first read as a stream
of events (iteratively, so deep nesting cannot exhaust the stack) to enforce the nesting
limit and refuse anchors, aliases and non-standard tags; only then is it composed into
nodes, which carry the line numbers every problem points at. The readers report each
problem to a `Problems` collector and return None, so that loading goes on and every
problem is reported at once.
"""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Collection

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from schemas.errors import PolicyError, PolicyProblem, policy_problem

MAX_BYTES = 1 << 20  # 1 MiB
MAX_DEPTH = 20
MAX_YAML_PROBLEMS = 20  # stop reading events once this many have been found

_STANDARD = "tag:yaml.org,2002:"
STR_TAG = _STANDARD + "str"
INT_TAG = _STANDARD + "int"
FLOAT_TAG = _STANDARD + "float"
NULL_TAG = _STANDARD + "null"
_SCALAR_TAGS = frozenset(_STANDARD + name for name in ("str", "int", "float", "bool", "null"))

NOT_SHOWN = "<not shown>"
_WORD = re.compile(r"[A-Za-z0-9_.:/!+-]+")
_DECIMAL_INT = re.compile(r"[-+]?[0-9]{1,18}")
_DECIMAL_NUMBER = re.compile(r"[-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")


def word(text: str, limit: int = 40) -> str:
    """`text` fit to quote in a message: identifier-like and short, else a placeholder."""
    if text == "":
        return ""
    if not _WORD.fullmatch(text):
        return NOT_SHOWN
    return text if len(text) <= limit else text[: limit - 3] + "..."


def keyword(text: str, vocabulary: Collection[str]) -> str:
    """`text` fit to quote where it should have been one of `vocabulary`.

    A word of the vocabulary, or a near miss of one (a typo such as 'keeep'), is quoted;
    anything else is not: a policy is written by people who may paste an identifier in
    the wrong place, and its messages end up in logs. The line number locates it.
    """
    if text in vocabulary:
        return word(text)
    if len(text) <= 64 and difflib.get_close_matches(text, list(vocabulary), n=1, cutoff=0.75):
        return word(text)
    return NOT_SHOWN


def qualified(label: str, key: str, limit: int = 40) -> str:
    """`label.key` for messages, within `limit` characters, shortening `label` first."""
    name = word(key, limit)
    room = limit - len(name) - 1
    if not label or room < 7:
        return name
    if len(label) > room:
        label = label[: room - 3] + "..."
    return f"{label}.{name}"


def line_of(node: Node) -> int:
    """1-based line where `node` starts."""
    return node.start_mark.line + 1


class Problems:
    """The problems found in one policy, collected before anything is reported."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.items: list[PolicyProblem] = []

    def add(self, line: int, code: str, **fields: object) -> None:
        self.items.append(policy_problem(self.source, line, code, **fields))

    def invalid(self, node: Node, field: str, reason: str) -> None:
        self.add(line_of(node), "invalid-value", field=field, reason=reason)

    def __len__(self) -> int:
        return len(self.items)

    def error(self) -> PolicyError:
        return PolicyError(self.items)


def _error_line(exc: yaml.YAMLError, text: str) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is not None:
        return mark.line + 1
    position = getattr(exc, "position", None)  # yaml.reader.ReaderError
    if isinstance(position, int):
        return text.count("\n", 0, position) + 1
    return 0


def _check_events(text: str, problems: Problems) -> None:
    """Check nesting, anchors, aliases and tags on the event stream; raise on bad syntax.

    PolicyErrors are raised outside ``except`` blocks: a YAMLError's marks hold the whole
    policy text, which must be neither the cause nor the context of the error.
    """
    depth = 0
    syntax_line = None
    try:
        for event in yaml.parse(text, Loader=yaml.SafeLoader):
            line = event.start_mark.line + 1
            if isinstance(event, yaml.CollectionStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    problems.add(line, "policy-too-large")
                    raise problems.error()
            elif isinstance(event, yaml.CollectionEndEvent):
                depth -= 1
            if isinstance(event, yaml.AliasEvent):
                problems.add(line, "unsupported-yaml", feature="an alias")
            elif isinstance(event, yaml.NodeEvent) and event.anchor is not None:
                problems.add(line, "unsupported-yaml", feature="an anchor")
            tag = getattr(event, "tag", None)
            if tag is not None and not (
                isinstance(event, yaml.ScalarEvent) and tag in _SCALAR_TAGS
            ):
                label = word(tag.replace(_STANDARD, "!!", 1))
                problems.add(line, "unsupported-yaml", feature=f"tag '{label}'")
            if len(problems) >= MAX_YAML_PROBLEMS:
                break
    except yaml.YAMLError as exc:
        syntax_line = _error_line(exc, text)
    if syntax_line is not None:
        problems.add(syntax_line, "policy-syntax")
        raise problems.error()


def compose(text: str, problems: Problems) -> Node | None:
    """The single YAML document in `text` as nodes (None if empty), or raise PolicyError."""
    if len(text) > MAX_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_BYTES:
        problems.add(0, "policy-too-large")
        raise problems.error()
    _check_events(text, problems)
    if problems.items:
        raise problems.error()
    syntax_line = 0
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        syntax_line = _error_line(exc, text)
    problems.add(syntax_line, "policy-syntax")  # outside the except block: no context
    raise problems.error()


def text(node: Node, problems: Problems, field: str) -> str | None:
    """A scalar that YAML reads as text (words such as no, on or null must be quoted)."""
    if isinstance(node, ScalarNode) and node.tag == STR_TAG:
        return node.value
    problems.invalid(node, field, "must be text (put it in quotes)")
    return None


def integer(node: Node, problems: Problems, field: str, low: int, high: int | None) -> int | None:
    """A whole number written in decimal, from `low` to `high` (None: no upper bound)."""
    if isinstance(node, ScalarNode) and node.tag == INT_TAG and _DECIMAL_INT.fullmatch(node.value):
        value = int(node.value)
        if value >= low and (high is None or value <= high):
            return value
    bounds = f"from {low} to {high}" if high is not None else f"of at least {low}"
    problems.invalid(node, field, f"must be a whole number {bounds}")
    return None


def number(node: Node, problems: Problems, field: str, positive: bool) -> float | None:
    """A finite decimal number, above 0 if `positive`."""
    if (
        isinstance(node, ScalarNode)
        and node.tag in (INT_TAG, FLOAT_TAG)
        and _DECIMAL_NUMBER.fullmatch(node.value)
    ):
        value = float(node.value)
        if math.isfinite(value) and (value > 0 or not positive):
            return value
    problems.invalid(node, field, "must be a number above 0" if positive else "must be a number")
    return None


class Fields:
    """The fields of one mapping node by key, with readers that report problems.

    `label` qualifies field names in messages (e.g. "input" or a column name).
    """

    def __init__(self, node: MappingNode, problems: Problems, label: str = "") -> None:
        self.node = node
        self.line = line_of(node)
        self.label = label
        self.problems = problems
        self._items: dict[str, tuple[ScalarNode, Node]] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, ScalarNode):
                problems.invalid(key_node, label or "policy", "has a non-text key")
                continue
            if key_node.value in self._items:
                problems.invalid(key_node, self.field(key_node.value), "is given more than once")
                continue
            self._items[key_node.value] = (key_node, value_node)

    def field(self, key: str) -> str:
        """The qualified name of `key` for messages."""
        return qualified(self.label, key)

    def get(self, key: str) -> Node | None:
        item = self._items.get(key)
        return None if item is None else item[1]

    def require(self, key: str) -> Node | None:
        """The value node of `key`; reports missing-field at the mapping when absent."""
        node = self.get(key)
        if node is None:
            self.problems.add(self.line, "missing-field", field=self.field(key))
        return node

    def reject_unknown(self, allowed: Collection[str]) -> None:
        """Report every key not in `allowed` as unknown-field, at the key's line."""
        for key, (key_node, _) in self._items.items():
            if key not in allowed:
                self.problems.add(line_of(key_node), "unknown-field", field=self.field(key))

    def text(self, key: str, required: bool = False) -> str | None:
        node = self.require(key) if required else self.get(key)
        return None if node is None else text(node, self.problems, self.field(key))

    def pattern(
        self, key: str, regex: re.Pattern[str], reason: str, required: bool = False
    ) -> str | None:
        """Text that fully matches `regex`; None if absent or after reporting why not."""
        value = self.text(key, required)
        if value is not None and not regex.fullmatch(value):
            self.problems.invalid(self._items[key][1], self.field(key), reason)
            return None
        return value

    def choice(
        self, key: str, options: Collection[str], code: str, column: str, required: bool = False
    ) -> str | None:
        """One of `options`; anything else is reported under `code` for `column`, quoted
        only if it is a near miss of an option."""
        value = self.text(key, required)
        if value is not None and value not in options:
            shown = keyword(value, options)
            self.problems.add(line_of(self._items[key][1]), code, column=column, value=shown)
            return None
        return value

    def integer(self, key: str, low: int, high: int | None, default: int | None) -> int | None:
        """A whole-number field; `default` when absent (missing-field if that is None)."""
        node = self.get(key) if default is not None else self.require(key)
        if node is None:
            return default
        return integer(node, self.problems, self.field(key), low, high)

    def number(self, key: str, positive: bool, required: bool) -> float | None:
        node = self.require(key) if required else self.get(key)
        return None if node is None else number(node, self.problems, self.field(key), positive)


def mapping(node: Node | None, problems: Problems, label: str) -> Fields | None:
    """`node` as Fields, or None (after reporting it unless absent) if not a mapping."""
    if isinstance(node, MappingNode):
        return Fields(node, problems, label)
    if node is not None:
        problems.invalid(node, label, "must be a mapping of fields")
    return None


def sequence(node: Node | None, problems: Problems, field: str) -> list[Node] | None:
    """The items of a sequence node, or None (after reporting it unless absent)."""
    if isinstance(node, SequenceNode):
        return list(node.value)
    if node is not None:
        problems.invalid(node, field, "must be a list")
    return None
