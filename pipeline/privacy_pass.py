"""The privacy gate around a run: measure in the first pass, enforce in a second.

The first pass stages published rows (with provenance) and measures their classes
with a Beam combine. The launcher decides a level from the measures; the second
pass reads exactly the staged files the first pass committed (named in its stats,
never a glob), generalises to that level, sends rows of failing classes to rejected/
(`k-anonymity`) and writes the published data.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil

import apache_beam as beam
import pyarrow as pa
import pyarrow.parquet as pq

from pipeline.io import write_parquet
from pipeline.outcome import committed_paths, write_one_file, write_stats
from schemas.model import Policy
from transforms.beam import REJECTED, SOURCE_FILE, SOURCE_ROW, STATS, redacted_errors
from transforms.privacy.beam import K_ANONYMITY, EnforcePrivacy, MeasureClasses
from transforms.privacy.decision import Decision
from transforms.privacy.measure import LevelMeasure

STAGE_DIR = "_stage"
PRIVACY_DIR = "_privacy"
MEASURES_FILE = "measures.json"


def staged_schema(schema: pa.Schema) -> pa.Schema:
    return schema.append(pa.field(SOURCE_FILE, pa.string())).append(
        pa.field(SOURCE_ROW, pa.int64())
    )


def stage_and_measure(data, policy: Policy, staging: str, schema: pa.Schema):
    """First pass: stage published tables and write the class measures. Returns the stats
    records of the staged files."""
    staged = write_parquet(
        data, os.path.join(staging, STAGE_DIR), staged_schema(schema), "Stage data"
    )
    measures = data | "Measure classes" >> MeasureClasses(policy)
    write_one_file(
        measures,
        os.path.join(staging, PRIVACY_DIR, MEASURES_FILE),
        _measures_json,
        "Write measures",
    )
    return staged


def _measures_json(measures: list[LevelMeasure]) -> str:
    return json.dumps([dataclasses.asdict(measure) for measure in measures])


def staged_files(staging: str) -> list[str]:
    """Paths of the files the first pass committed to the stage, checked against their
    footers; files of failed bundle attempts are left out (and deleted)."""
    return committed_paths(staging, STAGE_DIR, passes=("stats",))


class _ReadStagedFn(beam.DoFn):
    """A staged file -> its tables, one per row group (as the first pass wrote them)."""

    def process(self, path: str):
        with redacted_errors("reading staged data"):
            parquet = pq.ParquetFile(path)
            for group in range(parquet.num_row_groups):
                yield parquet.read_row_group(group)


def read_measures(staging: str) -> list[LevelMeasure]:
    with open(os.path.join(staging, PRIVACY_DIR, MEASURES_FILE), encoding="utf-8") as handle:
        raw = json.loads(handle.read())
    measures = []
    for entry in raw:
        for sizes in ("class_sizes", "class_sizes_after"):
            entry[sizes] = {int(size): count for size, count in entry[sizes].items()}
        measures.append(LevelMeasure(**entry))
    return measures


def enforce(
    pipeline: beam.Pipeline,
    policy: Policy,
    decision: Decision,
    staging: str,
    schema: pa.Schema,
    rejected_schema: pa.Schema,
    staged: list[str],
) -> None:
    """Second pass: the `staged` files -> data/ and k-anonymity rows in rejected/."""
    tables = (
        pipeline
        | "Staged files" >> beam.Create(staged)
        | "Read staged" >> beam.ParDo(_ReadStagedFn()).with_output_types(pa.Table)
    )
    enforced = tables | EnforcePrivacy(policy, decision.level, decision.suppressed_classes, schema)
    data_files = write_parquet(enforced.data, os.path.join(staging, "data"), schema, "Write data")
    suppressed_files = write_parquet(
        enforced[REJECTED],
        os.path.join(staging, "rejected"),
        rejected_schema,
        "Write suppressed",
        prefix=K_ANONYMITY,
    )
    stats = (enforced[STATS], data_files, suppressed_files) | "All stats" >> beam.Flatten()
    write_stats(stats, staging, "privacy")


def remove_intermediates(staging: str) -> None:
    for name in (STAGE_DIR, PRIVACY_DIR):
        shutil.rmtree(os.path.join(staging, name), ignore_errors=True)


def _ratio(part: int, whole: int) -> float:
    return round(part / whole, 6) if whole else 0.0


def privacy_report(policy: Policy, measures: list[LevelMeasure], decision: Decision) -> dict:
    """The `privacy` section of report.json."""
    targets = policy.privacy
    assert targets is not None
    before, after = measures[0], decision.measure
    k_after = after.k_after
    return {
        "subject": targets.subject,
        "quasi_identifiers": list(targets.quasi_identifiers),
        "sensitive": list(targets.sensitive),
        "k_target": targets.k,
        "l_target": targets.l,
        "strategy": targets.on_violation,
        "max_suppressed_share": targets.max_suppressed_share,
        "level": decision.level,
        "steps_applied": [dataclasses.asdict(step) for step in targets.steps[: decision.level]],
        "k_achieved": k_after,
        "k_before": min(before.class_sizes) if before.class_sizes else 0,
        "l_achieved": after.l_after,
        "subjects": before.subjects,
        "classes": {"before": before.classes, "after": after.classes - len(after.failing_classes)},
        "class_sizes": {
            "before": dict(sorted(before.class_sizes.items())),
            "after": dict(sorted(after.class_sizes_after.items())),
        },
        "subjects_suppressed": after.failing_subjects,
        "subjects_suppressed_share": _ratio(after.failing_subjects, after.subjects),
        "rows_suppressed": after.failing_rows,
        "unique_subjects_share": {
            "before": _ratio(before.unique_subjects, before.subjects),
            "after": _ratio(after.class_sizes_after.get(1, 0), after.subjects),
        },
        "prosecutor_risk": {
            "max": round(1 / k_after, 6) if k_after else 0.0,
            "average": round(after.average_risk_after, 6),
        },
    }
