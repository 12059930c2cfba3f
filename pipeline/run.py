"""One pseudonymisation run: preflight, the Beam pipeline, checks, then publication."""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone

import apache_beam as beam

from pipeline import __version__
from pipeline.io import ReadExport, ReadSettings, write_parquet
from pipeline.options import build_options, describe_runner, make_runner
from pipeline.outcome import check_refusals, read_outcome, remove_stats, write_stats
from pipeline.preflight import Preflight, run_preflight
from pipeline.privacy_pass import (
    enforce,
    privacy_report,
    read_measures,
    remove_intermediates,
    stage_and_measure,
    staged_files,
)
from pipeline.publish import Staging
from pipeline.report import RunInfo, build_report, write_report
from pipeline.report_html import write_html
from schemas.errors import PseudolabError, PublicationRefused
from transforms.beam import REJECTED, STATS, PseudonymiseBatches
from transforms.policy_applier import output_schema
from transforms.privacy.decision import decide
from transforms.rejected import REJECTED_SCHEMA


@dataclass
class RunRequest:
    policy: str
    inputs: list[str]
    output: str
    keyring: str
    input_format: str | None = None
    encoding: str | None = None
    max_rejected_ratio: float = 0.01
    beam_args: list[str] = field(default_factory=list)


class ReconciliationFailed(PseudolabError):
    exit_code = 1


def new_run_id(now: datetime) -> str:
    return f"{now:%Y%m%dT%H%M%SZ}-{secrets.token_hex(4)}"


def _schema_metadata(preflight: Preflight, run_id: str) -> dict[str, str]:
    policy = preflight.policy
    return {
        "pseudolab.version": __version__,
        "pseudolab.policy.name": policy.name,
        "pseudolab.policy.version": policy.version,
        "pseudolab.policy.sha256": policy.sha256,
        "pseudolab.key_id": preflight.keyring_ref.key_id,
        "pseudolab.run_id": run_id,
    }


def build_pipeline(pipeline: beam.Pipeline, preflight: Preflight, staging: str, run_id: str):
    """The pipeline's shape; kept apart so tests can run it on a TestPipeline."""
    metadata = _schema_metadata(preflight, run_id)
    settings = ReadSettings(
        columns=preflight.policy.column_names,
        read_columns=preflight.policy.read_columns,
        delimiter=preflight.policy.input.delimiter,
        encoding=preflight.encoding,
    )
    read = (
        pipeline
        | "Inputs" >> beam.Create(list(preflight.inputs))
        | "Read export" >> ReadExport(settings)
    )
    privacy = preflight.policy.privacy is not None
    applied = read.batches | "Apply policy" >> PseudonymiseBatches(
        preflight.policy, preflight.keyring_ref, provenance=privacy
    )
    schema = output_schema(preflight.policy).with_metadata(metadata)
    if privacy:
        data_files = stage_and_measure(applied.data, preflight.policy, staging, schema)
    else:
        data_files = write_parquet(
            applied.data, os.path.join(staging, "data"), schema, "Write data"
        )
    rejected = (read[REJECTED], applied[REJECTED]) | "All rejected" >> beam.Flatten()
    rejected_files = write_parquet(
        rejected,
        os.path.join(staging, "rejected"),
        REJECTED_SCHEMA.with_metadata(metadata),
        "Write rejected",
    )
    stats = (read[STATS], applied[STATS], data_files, rejected_files)
    write_stats(stats | "All stats" >> beam.Flatten(), staging, "stats")


def _privacy_gate(preflight: Preflight, options, staging: str, run_id: str) -> dict:
    """Decide from the first pass's measures, then run the enforcing second pass."""
    policy = preflight.policy
    staged = staged_files(staging)
    measures = read_measures(staging)
    decision = decide(measures, policy.privacy)
    metadata = _schema_metadata(preflight, run_id)
    pipeline = beam.Pipeline(runner=make_runner(options), options=options)
    enforce(
        pipeline,
        policy,
        decision,
        staging,
        output_schema(policy).with_metadata(metadata),
        REJECTED_SCHEMA.with_metadata(metadata),
        staged,
    )
    pipeline.run().wait_until_finish()
    return privacy_report(policy, measures, decision)


def execute(request: RunRequest) -> dict:
    """Run and publish; returns the report. Raises PseudolabError on any refusal."""
    started = datetime.now(timezone.utc)
    clock = time.perf_counter()
    options = build_options(request.beam_args)
    preflight = run_preflight(
        request.policy, request.inputs, request.keyring, request.input_format, request.encoding
    )
    run_id = new_run_id(started)
    timings = {"preflight_s": time.perf_counter() - clock}
    with Staging(request.output, run_id) as staging:
        pipeline_clock = time.perf_counter()
        pipeline = beam.Pipeline(runner=make_runner(options), options=options)
        build_pipeline(pipeline, preflight, staging.path, run_id)
        pipeline.run().wait_until_finish()
        timings["pipeline_s"] = time.perf_counter() - pipeline_clock

        check_refusals(staging.path)
        privacy = None
        passes: tuple[str, ...] = ("stats",)
        if preflight.policy.privacy is not None:
            privacy = _privacy_gate(preflight, options, staging.path, run_id)
            timings["privacy_s"] = time.perf_counter() - pipeline_clock - timings["pipeline_s"]
            passes = ("stats", "privacy")
            check_refusals(staging.path)
        metadata = _schema_metadata(preflight, run_id)
        outcome = read_outcome(
            staging.path,
            [source.path for source in preflight.inputs],
            {
                "data": output_schema(preflight.policy).with_metadata(metadata),
                "rejected": REJECTED_SCHEMA.with_metadata(metadata),
            },
            passes,
        )
        remove_stats(staging.path)
        remove_intermediates(staging.path)
        if not outcome.reconciled:
            raise ReconciliationFailed(
                f"rows do not reconcile: in {outcome.rows_in}, out {outcome.rows_out}"
                f" (transform counted {outcome.rows_out_counted}),"
                f" rejected {outcome.rows_rejected}; nothing published"
            )
        ratio = outcome.input_rejected_ratio
        if ratio > request.max_rejected_ratio:
            raise PublicationRefused(
                f"rejected ratio {ratio:.4f} is above --max-rejected-ratio"
                f" {request.max_rejected_ratio}; reasons {outcome.rejected_by_reason};"
                " nothing published"
            )
        timings["total_s"] = time.perf_counter() - clock
        info = RunInfo(
            run_id=run_id,
            key_id=preflight.keyring_ref.key_id,
            runner=describe_runner(options),
            started_at=started.replace(microsecond=0).isoformat(),
            max_rejected_ratio=request.max_rejected_ratio,
        )
        report = build_report(info, preflight.policy, preflight.inputs, outcome, timings)
        if privacy is not None:
            report["privacy"] = privacy
        write_report(staging.path, report)
        write_html(staging.path, report)
        staging.publish()
    return report
