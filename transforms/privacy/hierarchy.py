"""Generalisation hierarchies of published quasi-identifiers.

Age bands widen (5 -> 10 -> 20 years, `90+` kept), départements become régions,
months become quarters then years, and any quasi-identifier can be suppressed
(null). Level n of a policy is its first n steps applied in order.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pyarrow as pa

from schemas.model import (
    SUPPRESSED,
    AgeBand,
    Departement,
    GeneraliseStep,
    Policy,
    YearMonth,
    producing_operation,
)
from transforms.distinct import each, map_distinct
from transforms.privacy.regions import region_of


def wider_band(label: str, width: int, top: int) -> str:
    """'35-39' at width 10 -> '30-39'; the top-coded band ('90+') is unchanged."""
    if label.endswith("+"):
        return label
    low = int(label.split("-", 1)[0]) // width * width
    return f"{low}-{min(low + width, top) - 1}"


def quarter(month: str) -> str:
    """'2021-03' -> '2021-Q1'."""
    year, number = month.split("-", 1)
    return f"{year}-Q{(int(number) - 1) // 3 + 1}"


def year_of(month: str) -> str:
    return month.split("-", 1)[0]


def step_function(policy: Policy, step: GeneraliseStep) -> Callable[[pa.Array], pa.Array]:
    """The array function of one step. The loader has checked the step is valid."""
    if step.to == SUPPRESSED:
        return lambda values: pa.nulls(len(values), values.type)
    operation = producing_operation(policy.columns, step.column)
    if isinstance(operation, AgeBand):
        width, top = int(step.to), operation.top
        return lambda values: map_distinct(values, each(lambda v: wider_band(v, width, top)))
    if isinstance(operation, Departement) and step.to == "region":
        return lambda values: map_distinct(values, each(region_of))
    if isinstance(operation, YearMonth) and step.to in ("quarter", "year"):
        mapper = quarter if step.to == "quarter" else year_of
        return lambda values: map_distinct(values, each(mapper))
    raise ValueError(f"no hierarchy step to '{step.to}' for column '{step.column}'")


class Hierarchy:
    """The levels of a policy's privacy steps, applied to tables of published rows."""

    def __init__(self, policy: Policy):
        if policy.privacy is None:
            raise ValueError("the policy declares no privacy targets")
        self.steps = policy.privacy.steps
        self._functions = [step_function(policy, step) for step in self.steps]

    @property
    def levels(self) -> int:
        """Number of levels: 0 (as published) to len(steps)."""
        return len(self.steps) + 1

    def generalise(self, table: pa.Table, level: int) -> pa.Table:
        for step in range(level):
            table = self._step(table, step)
        return table

    def generalise_column(self, column: str, values: pa.Array, level: int) -> pa.Array:
        """`values` of `column` at `level`: the column's own steps among the first `level`.

        Steps work value by value, so this may be given a column's distinct values.
        """
        for step in range(level):
            if self.steps[step].column == column:
                values = self._functions[step](values)
        return values

    def each_level(self, table: pa.Table) -> Iterator[pa.Table]:
        """`table` at levels 0, 1, ... in turn, each step applied once."""
        yield table
        for step in range(len(self.steps)):
            table = self._step(table, step)
            yield table

    def _step(self, table: pa.Table, step: int) -> pa.Table:
        index = table.schema.get_field_index(self.steps[step].column)
        column = table.column(index).combine_chunks()
        return table.set_column(index, table.schema.field(index), self._functions[step](column))
