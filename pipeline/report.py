"""report.json: what came in, what went out, why rows were rejected. Never a value."""

from __future__ import annotations

import json
import os
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING

from pipeline import __version__
from pipeline.inputs import InputFile
from pipeline.report_html import HTML_NAME
from schemas.model import (
    AgeBand,
    Bucket,
    Departement,
    Drop,
    Generalise,
    Keep,
    Policy,
    Prefix,
    Tokenise,
    Year,
    YearMonth,
    action_name,
)

if TYPE_CHECKING:  # pipeline.outcome imports Beam, which `pseudolab report` never needs
    from pipeline.outcome import Outcome

REPORT_NAME = "report.json"


@dataclass(frozen=True)
class RunInfo:
    run_id: str
    key_id: str
    runner: str
    started_at: str
    max_rejected_ratio: float


def _operation_text(operation: object) -> str:
    if isinstance(operation, AgeBand):
        return (
            f"age band of {operation.width} years at {operation.reference},"
            f" {operation.top}+ top-coded"
        )
    if isinstance(operation, Bucket):
        return f"intervals of {operation.width:g}" + (
            f", {operation.top:g}+ top-coded" if operation.top is not None else ""
        )
    if isinstance(operation, Prefix):
        return f"first {operation.length} characters"
    texts = {Year: "year", YearMonth: "year and month", Departement: "département of the commune"}
    return texts.get(type(operation), type(operation).__name__)


def column_details(policy: Policy) -> list[dict]:
    """What happens to each input column, in words a reviewer can check."""
    details = []
    for rule in policy.columns:
        action = rule.action
        output, detail = None, "not published"
        if isinstance(action, Keep):
            output, detail = action.output, f"published as is ({rule.type})"
        elif isinstance(action, Tokenise):
            output = action.output
            refused = "row rejected" if action.on_invalid == "reject" else "null token"
            detail = (
                f"keyed token, normaliser {action.normaliser}, domain {action.domain};"
                f" invalid value: {refused}"
            )
        elif isinstance(action, Generalise):
            output, detail = action.output, _operation_text(action.operation)
        elif not isinstance(action, Drop):
            detail = ""
        details.append(
            {"input": rule.name, "action": action_name(action), "output": output, "detail": detail}
        )
    return details


def build_report(
    info: RunInfo,
    policy: Policy,
    inputs: tuple[InputFile, ...],
    outcome: Outcome,
    timings: dict[str, float],
) -> dict:
    return {
        "run_id": info.run_id,
        "pseudolab_version": __version__,
        "started_at": info.started_at,
        "runner": info.runner,
        "policy": {"name": policy.name, "version": policy.version, "sha256": policy.sha256},
        "key_id": info.key_id,
        "inputs": [
            {
                "path": source.path,
                "format": source.format,
                "rows": outcome.rows_in_by_input[source.path],
            }
            for source in inputs
        ],
        "rows_in": outcome.rows_in,
        "rows_out": outcome.rows_out,
        "rows_rejected": outcome.rows_rejected,
        "rejected_ratio": round(outcome.rows_rejected / outcome.rows_in, 6)
        if outcome.rows_in
        else 0,
        "max_rejected_ratio": info.max_rejected_ratio,
        "rejected_by_reason": outcome.rejected_by_reason,
        "flags": outcome.flags,
        "columns": {rule.name: action_name(rule.action) for rule in policy.columns},
        "column_details": column_details(policy),
        "outputs": list(policy.outputs),
        "files": {"data": outcome.data_files, "rejected": outcome.rejected_files},
        "timings": {name: round(seconds, 3) for name, seconds in timings.items()},
    }


def write_report(directory: str, report: dict) -> str:
    path = os.path.join(directory, REPORT_NAME)
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(report, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    return path


def summary_lines(report: dict, output: str) -> list[str]:
    """A short summary for people: counts, what happened to columns, where the output is."""
    actions = Counter(report["columns"].values())
    lines = [
        f"pseudolab {report['pseudolab_version']} run {report['run_id']}"
        f" policy {report['policy']['name']} {report['policy']['version']}"
        f" key {report['key_id']}",
        f"rows in {report['rows_in']:,}  out {report['rows_out']:,}"
        f"  rejected {report['rows_rejected']:,} ({report['rejected_ratio']:.3%})",
        "columns: "
        + ", ".join(
            f"{actions.get(action, 0)} {label}"
            for action, label in (
                ("keep", "kept"),
                ("tokenise", "tokenised"),
                ("generalise", "generalised"),
                ("drop", "dropped"),
            )
        ),
    ]
    if report["rejected_by_reason"]:
        reasons = ", ".join(f"{code} {n:,}" for code, n in report["rejected_by_reason"].items())
        lines.append(f"rejected by reason: {reasons}")
    for code, columns in report["flags"].items():
        detail = ", ".join(f"{column} {n:,}" for column, n in columns.items())
        lines.append(f"flagged {code}: {detail}")
    privacy = report.get("privacy")
    if privacy:
        lines.append(
            f"privacy: k = {privacy['k_achieved']} (target {privacy['k_target']}),"
            f" level {privacy['level']}, {privacy['subjects_suppressed']:,} of"
            f" {privacy['subjects']:,} subjects suppressed, max risk"
            f" {privacy['prosecutor_risk']['max']:.3f}"
        )
    lines.append(f"output: {output} ({report['timings'].get('total_s', 0):.1f} s)")
    lines.append(f"report for people: {os.path.join(output, HTML_NAME)}")
    return lines
