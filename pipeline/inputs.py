"""What a run reads: input files and how to read them. Plain data, no Beam, so that
commands which never run a pipeline (`check`, `rotate`) start without importing it."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class InputFile:
    path: str
    format: str


@dataclass(frozen=True)
class ReadSettings:
    columns: tuple[str, ...]  # every column a file must have
    delimiter: str
    encoding: str
    read_columns: tuple[str, ...] | None = None  # the ones converted; None: all
