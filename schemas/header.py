"""Check an input file's header against the policy before any row is read.

Fail closed: every header name must be declared by the policy, exactly once, and every
declared column must be present; the order does not matter. Header names are echoed in
the message only when they look like column names. A file without a header row would
otherwise put its first row's values in the error, so other names, or all of them
when none is a declared column, are shown by position instead (`#3`, 1-based).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Sequence

from schemas.errors import InputError
from schemas.model import Policy

MAX_NAME_CHARS = 64
_COLUMN_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _shorten(name: str) -> str:
    if len(name) <= MAX_NAME_CHARS:
        return name
    return name[: MAX_NAME_CHARS - 3] + "..."


def _describe(names: Iterable[str], header: Sequence[str], show_names: bool) -> str:
    """Sorted, comma-separated: names that are safe to show, then positions for the rest."""
    shown: set[str] = set()
    positions: set[int] = set()
    for name in set(names):
        if show_names and _COLUMN_NAME.fullmatch(name):
            shown.add(_shorten(name))
        else:
            positions.add(header.index(name) + 1)
    return ", ".join([*sorted(shown), *(f"#{position}" for position in sorted(positions))])


def check_header(policy: Policy, header: Sequence[str], path: str) -> None:
    """Raise InputError unless `header` names exactly the policy's columns, once each."""
    check_header_names(policy.column_names, header, path)


def check_header_names(columns: Sequence[str], header: Sequence[str], path: str) -> None:
    """Raise InputError unless `header` names exactly `columns`, once each.

    Checked in this order, the first failure is reported: duplicate-header,
    unknown-column, missing-column, each listing every column at fault.
    """
    names = [str(name) for name in header]
    declared = set(columns)
    show_names = not names or any(name in declared for name in names)
    duplicates = [name for name, count in Counter(names).items() if count > 1]
    if duplicates:
        column = _describe(duplicates, names, show_names)
        raise InputError("duplicate-header", path=path, column=column)
    unknown = [name for name in names if name not in declared]
    if unknown:
        raise InputError("unknown-column", path=path, column=_describe(unknown, names, show_names))
    missing = sorted(declared.difference(names))
    if missing:
        column = ", ".join(_shorten(name) for name in missing)
        raise InputError("missing-column", path=path, column=column)
