"""Beam options: passed through unchanged, checked strictly, in-process runner by default."""

from __future__ import annotations

from apache_beam.options.pipeline_options import (
    DirectOptions,
    PipelineOptions,
    StandardOptions,
    _BeamArgumentParser,
)

from schemas.errors import UsageError

_IN_PROCESS = {None, "DirectRunner", "directrunner", "direct"}


def _all_option_classes() -> list[type]:
    found: dict[str, type] = {}
    pending = list(PipelineOptions.__subclasses__())
    while pending:
        cls = pending.pop()
        found.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
        pending.extend(cls.__subclasses__())
    return list(found.values())


def unknown_beam_flags(flags: list[str]) -> list[str]:
    """The flags no Beam option class knows (Beam itself only warns about them)."""
    parser = _BeamArgumentParser(allow_abbrev=False)
    for cls in _all_option_classes():
        try:
            cls._add_argparse_args(parser)
        except Exception:  # an option class that clashes with another: skip it
            continue
    _, unknown = parser.parse_known_args(flags)
    return [flag for flag in unknown if flag.startswith("-")]


def build_options(flags: list[str]) -> PipelineOptions:
    unknown = unknown_beam_flags(flags)
    if unknown:
        raise UsageError(f"unknown Beam option(s): {', '.join(sorted(unknown))[:200]}")
    return PipelineOptions(flags)


def _direct_mode(options: PipelineOptions) -> str | None:
    """The DirectRunner's running mode, or None for another runner."""
    if options.view_as(StandardOptions).runner not in _IN_PROCESS:
        return None
    return options.view_as(DirectOptions).direct_running_mode or "in_memory"


def runs_in_memory(options: PipelineOptions) -> bool:
    """Whether the pipeline runs inside this process, on its threads only (no worker
    processes, no job server)."""
    return _direct_mode(options) == "in_memory"


def describe_runner(options: PipelineOptions) -> str:
    mode = _direct_mode(options)
    if mode is None:
        return str(options.view_as(StandardOptions).runner)
    workers = options.view_as(DirectOptions).direct_num_workers or 1
    return f"DirectRunner ({mode}, {workers} worker(s))"


def make_runner(options: PipelineOptions):
    """The in-process FnApiRunner for the DirectRunner (never the Prism download), else None.

    None lets Beam pick the runner named by --runner (Flink, Spark, Dataflow ...).
    """
    if options.view_as(StandardOptions).runner not in _IN_PROCESS:
        return None
    from apache_beam.portability.api import beam_provision_api_pb2
    from apache_beam.runners.portability.fn_api_runner import fn_runner
    from apache_beam.runners.portability.portable_runner import JobServiceHandle

    encoded = JobServiceHandle.encode_pipeline_options(options.get_all_options())
    provision = fn_runner.ExtendedProvisionInfo(
        beam_provision_api_pb2.ProvisionInfo(pipeline_options=encoded)
    )
    return fn_runner.FnApiRunner(provision_info=provision)
