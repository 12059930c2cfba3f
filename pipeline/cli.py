"""The `pseudolab` command. Beam options go after `--` and pass through unchanged.

Exit codes: 0 done; 2 usage, policy or keyring error; 3 input does not match the
policy or cannot be read; 4 a threshold refused publication; 1 anything unexpected.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import threading
import traceback
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress

from pipeline import __version__
from schemas.errors import PseudolabError, UsageError

DEBUG_ENV = "PSEUDOLAB_DEBUG"
# The commands that run a pipeline; the others start without importing Beam (~0.7 s).
BEAM_COMMANDS = frozenset({"run", "demo"})
# The others that import pyarrow, which looks for pandas on its first array of a list.
PYARROW_COMMANDS = frozenset({"check", "reidentify", "rotate", "sample"})


def _ratio(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError("must be between 0 and 1")
    return value


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pseudolab",
        description="Pseudonymise and minimise lab exports before they leave the source system.",
        epilog="Beam options follow `--`, e.g. `pseudolab run ... -- --runner=FlinkRunner`.",
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="version", version=f"pseudolab {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="pseudonymise inputs into a new output directory")
    run.add_argument("--policy", required=True, help="policy file, or a shipped policy name")
    run.add_argument("--input", action="append", required=True, help="file or glob; repeatable")
    run.add_argument("--output", required=True, help="output directory (must not exist)")
    run.add_argument("--keyring", required=True, help="keyring file (mode 0600), or env:NAME")
    run.add_argument("--format", choices=("csv", "parquet", "jsonl"), help="override detection")
    run.add_argument("--encoding", help="input text encoding, e.g. cp1252 (default: policy's)")
    run.add_argument(
        "--max-rejected-ratio",
        type=_ratio,
        default=0.01,
        help="refuse publication above this share of rejected rows (default 0.01)",
    )

    check = commands.add_parser("check", help="validate a policy, and an input header against it")
    check.add_argument("--policy", required=True)
    check.add_argument("--input", action="append", default=[])
    check.add_argument("--format", choices=("csv", "parquet", "jsonl"))
    check.add_argument("--encoding")

    keygen = commands.add_parser("keygen", help="create a new keyring (mode 0600)")
    keygen.add_argument("--output", required=True)

    sample = commands.add_parser("sample", help="write a synthetic export in the reference format")
    sample.add_argument("--rows", type=_positive, required=True)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--output", required=True)
    sample.add_argument("--encoding", default="utf-8")

    reidentify = commands.add_parser(
        "reidentify", help="clear values of encrypt tokens, for the lab only; audited"
    )
    reidentify.add_argument("--policy", required=True)
    reidentify.add_argument("--keyring", required=True)
    reidentify.add_argument("--column", required=True, help="input or output column name")
    reidentify.add_argument("--input", help="file of tokens, one per line (default: stdin)")
    reidentify.add_argument("--output", help="file for the clear values (default: stdout)")
    reidentify.add_argument("--audit-log", help="default: $PSEUDOLAB_AUDIT_LOG or beside K")

    rotate = commands.add_parser(
        "rotate", help="crosswalk old token -> new token after a key rotation"
    )
    rotate.add_argument("--policy", required=True)
    rotate.add_argument("--keyring", required=True)
    rotate.add_argument("--input", action="append", required=True)
    rotate.add_argument("--output", required=True, help="crosswalk Parquet file")
    rotate.add_argument("--from", dest="from_key", help="old key id (default: last retired)")
    rotate.add_argument("--encoding")

    key = commands.add_parser("key", help="list, add (rotate) or destroy keys of a keyring")
    key.add_argument("action", choices=("list", "add", "destroy"))
    key.add_argument("--keyring", required=True)
    key.add_argument("--id", help="key id, for destroy")

    report = commands.add_parser("report", help="print the summary of a published output")
    report.add_argument("directory")

    demo = commands.add_parser("demo", help="sample + throwaway keyring + run, with a summary")
    demo.add_argument("--rows", type=_positive, default=20_000)
    demo.add_argument("--seed", type=int, default=0)
    demo.add_argument("--output", help="output directory (default: a new temporary one)")
    return parser


def _split_beam_args(argv: Sequence[str]) -> tuple[list[str], list[str]]:
    argv = list(argv)
    if "--" in argv:
        index = argv.index("--")
        return argv[:index], argv[index + 1 :]
    return argv, []


def _dispatch(argv: Sequence[str]) -> int:
    ours, beam_args = _split_beam_args(argv)
    args = build_parser().parse_args(ours)
    if beam_args and args.command not in BEAM_COMMANDS:
        raise UsageError(f"`pseudolab {args.command}` takes no Beam options")
    if args.command in BEAM_COMMANDS:
        _import_beam_quietly()  # before anything imports apache_beam
    elif args.command in PYARROW_COMMANDS:
        _import_pyarrow_without_pandas()
    # After Beam's import, as before: it installs a root log handler (a module-level
    # logging.warning), which makes this a no-op for `run` and `demo`.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    from pipeline import commands

    handler = getattr(commands, f"command_{args.command}")
    return handler(args, beam_args)


class _NoPandas:
    """A module finder that makes `import pandas` fail, while it is on sys.meta_path."""

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name == "pandas" or name.startswith("pandas."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None


@contextmanager
def _pandas_hidden() -> Iterator[None]:
    """`import pandas` fails inside the block (unless pandas is already imported)."""
    finder = None if "pandas" in sys.modules else _NoPandas()
    if finder is not None:
        sys.meta_path.insert(0, finder)
    try:
        yield
    finally:
        if finder is not None:
            sys.meta_path.remove(finder)


def _import_pyarrow_without_pandas() -> None:
    """Import pyarrow, and have it look for pandas, which pseudolab never uses, while
    pandas is hidden: it looks once, on its first `pa.array` of a list, and remembers it
    is absent (0.2 s saved when pandas is installed). pandas stays importable."""
    with _pandas_hidden():
        import pyarrow

        pyarrow.array([0])  # pyarrow looks for pandas here, and remembers it is absent


def _import_beam_quietly() -> None:
    """Import Beam without its warnings about optional cloud clients we never use, and
    without pandas, which pseudolab never uses: when it is installed, Beam imports it to
    register DataFrame conversions and pyarrow on its first `pa.array` of a list (0.3 s,
    a third of Beam's import). Both look once and remember; pandas stays importable."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        with _pandas_hidden():
            import apache_beam  # noqa: F401
        _import_pyarrow_without_pandas()
    finally:
        root.setLevel(level)


def main(argv: Sequence[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    try:
        return _dispatch(argv)
    except PseudolabError as error:
        print(f"pseudolab: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        print("pseudolab: interrupted; nothing was published", file=sys.stderr)
        return 130
    except Exception as error:  # never echo the message: libraries quote cell values
        print(
            f"pseudolab: unexpected {type(error).__name__}; nothing was published"
            f" (details withheld as they may quote data; {DEBUG_ENV}=1 shows them)",
            file=sys.stderr,
        )
        if os.environ.get(DEBUG_ENV) == "1":
            traceback.print_exc()
        return 1


def _ran_in_memory(argv: Sequence[str]) -> bool:
    """Whether `argv` ran a pipeline on Beam's in-process runner, in memory: no worker
    process, job server or other clean-up waits on the interpreter's exit."""
    ours, beam_args = _split_beam_args(argv)
    if not ours or ours[0] not in BEAM_COMMANDS:
        return False
    from pipeline.options import build_options, runs_in_memory

    return runs_in_memory(build_options(beam_args))


def console_main() -> None:
    """The `pseudolab` command: `main`, then a quick exit after a successful in-memory run.

    Tearing down the interpreter after a pipeline (Beam's thousands of modules and
    objects) takes 0.1 to 0.2 s and does nothing for the user: every output is closed and
    published by then. After a successful `run` or `demo` on the in-process runner, with
    no other thread alive, the streams are flushed and the process ends at once; in every
    other case Python exits normally and runs its clean-ups (worker processes, job
    servers, temporary files).
    """
    argv = sys.argv[1:]
    code = main(argv)
    if code == 0 and threading.active_count() == 1 and _ran_in_memory(argv):
        logging.shutdown()
        for stream in (sys.stdout, sys.stderr):
            with suppress(OSError, ValueError):  # a closed pipe: the run is published anyway
                stream.flush()
        os._exit(0)
    sys.exit(code)


if __name__ == "__main__":
    console_main()
