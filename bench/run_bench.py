"""pseudolab benchmark: pseudolab against a pyarrow baseline and peers, in one run.

    python bench/run_bench.py                 # 500,000 rows, then the scaling table
    python bench/run_bench.py --rows 200000 --no-scaling
    python bench/run_bench.py --short         # CI smoke test, under a minute

Makes the reference export with `pseudolab sample` (seeded) and a Parquet copy of it,
a throwaway keyring, and the shipped policy without its `privacy:` section ("gate
off": the same work as the baseline). Then runs each contender in its own subprocess,
timing it from outside (the wall time includes interpreter start-up and imports) and
measuring its peak memory (its ru_maxrss, or the sum of the RSS of its process tree
sampled every 50 ms when that is larger, for multi-process runs). Prints Markdown
tables: wall time (best of --repeat), rows per second, peak memory, ratio to the
baseline of the same input format, and the output check.

The output check compares the published rows with the baseline's, row for row
(sorted; same columns, types, tokens), and the rejected rows and flags too. With the
privacy gate on, the published rows differ by design (generalised quasi-identifiers,
suppressed rows): the check is then that every published row, quasi-identifiers
aside, is a baseline row, that the rows missing are exactly those rejected as
`k-anonymity`, and that the other rejected rows are the baseline's.

Exit status: 1 if a contender fails or an output check fails, else 0. Timing never
fails the run: the targets are printed for information.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from importlib import resources
from importlib.metadata import PackageNotFoundError, version

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from common import DROPPED, GENERALISED, KEPT, OUTPUT, REJECTED_SCHEMA, TOKENISED  # noqa: E402

PSEUDOLAB = [sys.executable, "-c", "from pipeline.cli import console_main; console_main()"]
MULTI = ["--direct_running_mode=multi_processing", "--direct_num_workers=2"]
QUASI_IDENTIFIERS = ("sexe", "classe_age", "departement_residence", "mois_prelevement")
SCALING = (100_000, 500_000, 2_000_000)
_NULL_KEY = "\x00null"


# ------------------------------------------------------------------ contenders


@dataclass(frozen=True)
class Contender:
    key: str
    label: str
    kind: str  # baseline, pseudolab, peer
    fmt: str = "csv"
    gate: bool = False
    multi: bool = False
    peer: str = ""
    check: str = "equal"  # equal, gate, none
    slow: bool = False  # run once, whatever --repeat says
    needs: tuple[str, ...] = ()  # optional packages


def contenders() -> list[Contender]:
    out = [
        Contender("baseline-csv", "baseline: pyarrow + hashlib, no Beam", "baseline"),
        Contender(
            "baseline-parquet", "baseline: pyarrow + hashlib, no Beam", "baseline", "parquet"
        ),
    ]
    for gate in (False, True):
        name = "shipped policy, privacy gate on" if gate else "gate off (same work as baseline)"
        for multi in (False, True):
            runner = "DirectRunner 2 processes" if multi else "DirectRunner in-memory"
            for fmt in ("csv", "parquet"):
                key = f"pseudolab-{'gate' if gate else 'nogate'}-{fmt}-{'mp' if multi else 'mem'}"
                out.append(
                    Contender(
                        key,
                        f"pseudolab, {name}, {runner}",
                        "pseudolab",
                        fmt,
                        gate=gate,
                        multi=multi,
                        check="gate" if gate else "equal",
                    )
                )
    out += [
        Contender(
            "pandas-apply",
            "pandas, DataFrame.apply per row (typical)",
            "peer",
            peer="pandas-apply",
            slow=True,
            needs=("pandas",),
        ),
        Contender(
            "pandas-vectorised",
            "pandas, vectorised .str/.dt + Series.map",
            "peer",
            peer="pandas-vectorised",
            needs=("pandas",),
        ),
        Contender(
            "presidio",
            "Presidio anonymizer per value (hash, redact, custom)",
            "peer",
            peer="presidio",
            check="none",
            slow=True,
            needs=("pandas", "presidio_anonymizer"),
        ),
    ]
    return out


SHORT = (
    "baseline-csv",
    "baseline-parquet",
    "pseudolab-nogate-csv-mem",
    "pseudolab-nogate-parquet-mem",
    "pseudolab-nogate-csv-mp",
    "pseudolab-gate-csv-mem",
    "pandas-apply",
    "pandas-vectorised",
    "presidio",
)
SCALED = (
    "baseline-csv",
    "pseudolab-nogate-csv-mem",
    "pseudolab-gate-csv-mem",
    "baseline-parquet",
    "pseudolab-nogate-parquet-mem",
)


@dataclass
class Result:
    contender: Contender
    rows: int
    walls: list[float] = field(default_factory=list)
    peaks: list[int] = field(default_factory=list)  # bytes
    work: list[float] = field(default_factory=list)  # seconds inside the child
    stats: dict = field(default_factory=dict)
    check: str = ""
    error: str = ""
    skipped: str = ""
    extrapolated_from: int = 0

    @property
    def wall(self) -> float:
        return min(self.walls) if self.walls else float("nan")

    @property
    def peak_mib(self) -> float:
        return max(self.peaks) / 2**20 if self.peaks else float("nan")


# ------------------------------------------------------------------ measuring


def _descendants(pid: int) -> list[int]:
    found, pending = [], [pid]
    while pending:
        current = pending.pop()
        found.append(current)
        for task in glob.glob(f"/proc/{current}/task/*/children"):
            try:
                with open(task) as handle:
                    pending.extend(int(child) for child in handle.read().split())
            except OSError:
                continue
    return found


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as handle:
            return int(handle.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class TreeSampler(threading.Thread):
    """Peak of the summed RSS of a process's descendants, sampled (Linux /proc)."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self._stop_event = threading.Event()

    def run(self) -> None:
        if not os.path.isdir("/proc"):
            return
        while not self._stop_event.wait(self.interval):
            tree = _descendants(self.pid)[1:]  # the measured command and its children
            self.peak = max(self.peak, sum(_rss(p) for p in tree))

    def stop(self) -> None:
        self._stop_event.set()
        self.join()


# Runs the command as its own child and reports that child's wall time and ru_maxrss.
# The extra process matters: a child started from this (large) process by vfork + exec
# inherits this process's high-water RSS in its ru_maxrss (Linux records the old memory
# map's peak at exec), so the measured command must be forked from a small process.
_LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
wall = time.perf_counter() - start
with open(sys.argv[1], "w") as handle:
    handle.write(f"{wall} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def measure(command: list[str], log: str) -> tuple[float, int, int]:
    """(wall seconds, peak bytes, exit code) of a command, stdout and stderr to `log`.*"""
    usage_file = log + ".usage"
    with open(log + ".out", "wb") as out, open(log + ".err", "wb") as err:
        launcher = subprocess.Popen(
            [sys.executable, "-c", _LAUNCHER, usage_file, *command],
            stdout=out,
            stderr=err,
            stdin=subprocess.DEVNULL,
        )
        sampler = TreeSampler(launcher.pid)
        sampler.start()
        code = launcher.wait()
        sampler.stop()
    try:
        with open(usage_file) as handle:
            wall_text, maxrss_text = handle.read().split()
    except (OSError, ValueError):
        return float("nan"), sampler.peak, code or 1
    factor = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: KiB on Linux
    return float(wall_text), max(int(maxrss_text) * factor, sampler.peak), code


def _child_stats(log: str) -> dict:
    with open(log + ".out", encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if line.startswith("BENCH "):
                return json.loads(line[6:])
    return {}


def _tail(log: str) -> str:
    with open(log + ".err", encoding="utf-8", errors="replace") as handle:
        lines = [line.strip() for line in handle if line.strip()]
    return lines[-1][:300] if lines else "no message"


# ------------------------------------------------------------------ inputs


class Workspace:
    def __init__(self, root: str, seed: int):
        self.root, self.seed = root, seed
        os.makedirs(os.path.join(root, "runs"), exist_ok=True)
        self.keyring = os.path.join(root, "keyring.json")
        if not os.path.exists(self.keyring):
            _run([*PSEUDOLAB, "keygen", "--output", self.keyring])
        self.policy_on, self.policy_off = _policies(root)

    def csv(self, rows: int) -> str:
        path = os.path.join(self.root, f"sample-{rows}-seed{self.seed}.csv")
        if not os.path.exists(path):
            partial = path + ".partial.csv"
            seed = str(self.seed)
            _run([*PSEUDOLAB, "sample", "--rows", str(rows), "--seed", seed, "--output", partial])
            os.replace(partial, path)
        return path

    def parquet(self, rows: int) -> str:
        path = os.path.join(self.root, f"sample-{rows}-seed{self.seed}.parquet")
        if not os.path.exists(path):
            _to_parquet(self.csv(rows), path + ".partial")
            os.replace(path + ".partial", path)
        return path

    def run_dir(self, name: str) -> str:
        path = os.path.join(self.root, "runs", name)
        shutil.rmtree(path, ignore_errors=True)
        return path


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, stdin=subprocess.DEVNULL)
    if done.returncode != 0:
        raise SystemExit(f"bench: {' '.join(command[3:5])} failed: {done.stderr.strip()[-300:]}")


def _policies(root: str) -> tuple[str, str]:
    """The shipped policy, and a copy without its top-level `privacy:` section."""
    shipped = resources.files("schemas.policies").joinpath("lab-export-v1.yaml")
    text = shipped.read_text(encoding="utf-8")
    lines, kept, skipping = text.splitlines(keepends=True), [], False
    for line in lines:
        if re.match(r"^privacy\s*:", line):
            skipping = True
            continue
        if skipping and re.match(r"^[A-Za-z_]", line):
            skipping = False
        if not skipping:
            kept.append(line)
    if len(kept) == len(lines):
        raise SystemExit("bench: the shipped policy has no privacy section to remove")
    _check_policy(text)
    off = os.path.join(root, "lab-export-v1-gate-off.yaml")
    with open(off, "w", encoding="utf-8") as handle:
        handle.write("".join(kept))
    return str(shipped), off


def _check_policy(text: str) -> None:
    """The baseline and the peers hard-code the policy: refuse to run if it changed."""
    import yaml

    policy = yaml.safe_load(text)
    actions = {column["name"]: column for column in policy["columns"]}
    expected = {column: "tokenise" for column, *_ in TOKENISED}
    expected |= {column: "keep" for column in KEPT}
    expected |= {column: "generalise" for column in GENERALISED}
    expected |= {column: "drop" for column in DROPPED}
    problems = [
        name
        for name in set(actions) | set(expected)
        if actions.get(name, {}).get("action") != expected.get(name)
    ]
    for column, domain, normaliser, output in TOKENISED:
        rule = actions[column]
        if (rule["domain"], rule["normaliser"], rule["as"]) != (domain, normaliser, output):
            problems.append(column)
    if tuple(policy["output"]["columns"]) != OUTPUT:
        problems.append("output.columns")
    if problems:
        raise SystemExit(
            "bench: lab-export-v1 changed; update bench/common.py: " + ", ".join(sorted(problems))
        )


def _to_parquet(csv_path: str, parquet_path: str) -> None:
    """The export as Parquet, every column a string (as an upstream export would be)."""
    header = pa_csv.open_csv(
        csv_path, parse_options=pa_csv.ParseOptions(delimiter=";", newlines_in_values=True)
    ).schema.names
    reader = pa_csv.open_csv(
        csv_path,
        read_options=pa_csv.ReadOptions(block_size=16 * 2**20),
        parse_options=pa_csv.ParseOptions(delimiter=";", newlines_in_values=True),
        convert_options=pa_csv.ConvertOptions(
            column_types={name: pa.string() for name in header},
            strings_can_be_null=True,
            quoted_strings_can_be_null=True,
            null_values=[""],
        ),
    )
    pending: list[pa.RecordBatch] = []
    with pq.ParquetWriter(parquet_path, reader.schema, compression="snappy") as writer:
        for batch in reader:
            pending.append(batch)
            if sum(b.num_rows for b in pending) >= 100_000:
                writer.write_table(pa.Table.from_batches(pending))
                pending = []
        if pending:
            writer.write_table(pa.Table.from_batches(pending))


# ------------------------------------------------------------------ checks


def _read(pattern: str) -> pa.Table:
    files = sorted(glob.glob(pattern))
    if not files:
        raise ValueError(f"no file matches {pattern}")
    return pa.concat_tables(pq.read_table(f) for f in files).replace_schema_metadata(None)


def _sorted(table: pa.Table) -> pa.Table:
    keys = [(name, "ascending") for name in table.column_names]
    return table.take(pc.sort_indices(table, sort_keys=keys))


def _rejected(pattern: str, drop_k: bool = False) -> tuple[pa.Table, int]:
    table = _read(pattern)
    k_rows = 0
    if drop_k:
        is_k = pc.equal(table["reason"], "k-anonymity")
        k_rows = pc.sum(is_k).as_py() or 0
        table = table.filter(pc.invert(is_k))
    table = table.select(["source_row", "column", "reason"]).cast(REJECTED_SCHEMA)
    return table.sort_by("source_row"), k_rows


@dataclass
class Reference:
    data: pa.Table
    rejected: pa.Table
    flags: dict
    rows_in: int


def load_reference(out: str, stats: dict) -> Reference:
    rejected, _ = _rejected(os.path.join(out, "rejected.parquet"))
    data = _read(os.path.join(out, "data.parquet"))
    return Reference(_sorted(data), rejected, stats.get("flags", {}), stats["rows_in"])


def _outputs(out: str, kind: str) -> tuple[str, str]:
    if kind == "pseudolab":
        return os.path.join(out, "data", "*.parquet"), os.path.join(out, "rejected", "*.parquet")
    return os.path.join(out, "data.parquet"), os.path.join(out, "rejected.parquet")


def check_equal(ref: Reference, out: str, kind: str, stats: dict) -> str:
    """'' when the output is the reference's, row for row; else what differs."""
    data_glob, rejected_glob = _outputs(out, kind)
    data = _read(data_glob)
    if not data.schema.equals(ref.data.schema):
        return f"schema differs: {data.schema} vs {ref.data.schema}"
    if data.num_rows != ref.data.num_rows:
        return f"{data.num_rows} rows published, the baseline {ref.data.num_rows}"
    data = _sorted(data)
    if not data.equals(ref.data):
        columns = [n for n in data.column_names if not data[n].equals(ref.data[n])]
        return f"published rows differ in {', '.join(columns)}"
    rejected, _ = _rejected(rejected_glob)
    if not rejected.equals(ref.rejected):
        return f"rejected rows differ ({rejected.num_rows} vs {ref.rejected.num_rows})"
    if stats.get("flags", {}) != ref.flags:
        return f"flags differ: {stats.get('flags')} vs {ref.flags}"
    if stats.get("rows_in") != ref.rows_in:
        return f"rows in {stats.get('rows_in')} vs {ref.rows_in}"
    return ""


def _counts(table: pa.Table, keys: list[str]) -> pa.Table:
    filled = [
        pc.fill_null(table[k], _NULL_KEY) if pa.types.is_string(table[k].type) else table[k]
        for k in keys
    ]
    return (
        pa.table(dict(zip(keys, filled, strict=True))).group_by(keys).aggregate([([], "count_all")])
    )


def check_gate(ref: Reference, out: str, stats: dict) -> str:
    """With the privacy gate: published rows (quasi-identifiers aside) are baseline rows,
    the missing ones are those rejected as k-anonymity, the other rejections the baseline's."""
    data_glob, rejected_glob = _outputs(out, "pseudolab")
    data = _read(data_glob)
    if data.schema.names != ref.data.schema.names:
        return "published columns differ"
    rejected, k_rows = _rejected(rejected_glob, drop_k=True)
    if not rejected.equals(ref.rejected):
        return (
            "rejected rows (k-anonymity aside) differ"
            f" ({rejected.num_rows} vs {ref.rejected.num_rows})"
        )
    if data.num_rows + k_rows != ref.data.num_rows:
        return f"{data.num_rows} published + {k_rows} suppressed != {ref.data.num_rows}"
    keys = [name for name in OUTPUT if name not in QUASI_IDENTIFIERS]
    ours = _counts(data, keys).rename_columns([*keys, "ours"])
    theirs = _counts(ref.data, keys).rename_columns([*keys, "theirs"])
    joined = ours.join(theirs, keys=keys, join_type="left outer")
    missing = pc.sum(pc.is_null(joined["theirs"])).as_py()
    if missing:
        return f"{missing} published rows (quasi-identifiers aside) are not baseline rows"
    excess = pc.sum(pc.greater(joined["ours"], joined["theirs"])).as_py()
    if excess:
        return f"{excess} rows published more often than the baseline has them"
    if stats.get("rows_in") != ref.rows_in:
        return f"rows in {stats.get('rows_in')} vs {ref.rows_in}"
    return ""


# ------------------------------------------------------------------ running


def _available(module: str) -> bool:
    try:
        __import__(module)
    except ImportError:
        return False
    return True


def command(c: Contender, ws: Workspace, source: str, out: str, sample: int) -> list[str]:
    if c.kind == "baseline":
        return [sys.executable, os.path.join(HERE, "baseline.py"), "--input", source,
                "--output", out, "--keyring", ws.keyring]  # fmt: skip
    if c.kind == "peer":
        extra = ["--sample", str(sample)] if c.peer == "presidio" else []
        return [sys.executable, os.path.join(HERE, "peers.py"), c.peer, "--input", source,
                "--output", out, "--keyring", ws.keyring, *extra]  # fmt: skip
    policy = ws.policy_on if c.gate else ws.policy_off
    beam = ["--", *MULTI] if c.multi else []
    return [*PSEUDOLAB, "run", "--policy", policy, "--input", source, "--output", out,
            "--keyring", ws.keyring, *beam]  # fmt: skip


def run_contender(
    c: Contender, rows: int, ws: Workspace, repeat: int, sample: int, refs: dict, keep: bool
) -> Result:
    result = Result(c, rows)
    missing = [m for m in c.needs if not _available(m)]
    if missing:
        result.skipped = f"not installed: {', '.join(missing)} (pip install '.[bench]')"
        return result
    source = ws.parquet(rows) if c.fmt == "parquet" else ws.csv(rows)
    if c.peer == "presidio":
        sample = min(sample, rows)
        result.extrapolated_from = sample
    runs = 1 if c.slow else repeat
    for attempt in range(runs):
        out = ws.run_dir(f"{c.key}-{rows}-{attempt}")
        log = out + ".log"
        wall, peak, code = measure(command(c, ws, source, out, sample), log)
        if code != 0:
            result.error = f"exit {code} after {wall:.1f} s: {_tail(log)}"
            result.peaks.append(peak)
            return result
        stats = _child_stats(log)
        if c.kind == "pseudolab":
            with open(os.path.join(out, "report.json"), encoding="utf-8") as handle:
                report = json.load(handle)
            stats = {
                "rows_in": report["rows_in"],
                "rows_out": report["rows_out"],
                "rows_rejected": report["rows_rejected"],
                "flags": report.get("flags", {}),
                "work_s": report.get("timings", {}).get("total_s"),
            }
        if c.peer == "presidio":  # extrapolate the per-value work to all rows
            work = stats["sample_work_s"]
            wall += work * (rows / sample - 1)
            stats["work_s"] = stats["work_s"] + work * (rows / sample - 1)
        result.walls.append(wall)
        result.peaks.append(peak)
        if stats.get("work_s") is not None:
            result.work.append(stats["work_s"])
        result.stats = stats
        if attempt == 0:
            result.check = _check(c, rows, out, stats, refs)
            if result.check.startswith("DIFFERS"):
                result.error = result.check
        if c.key == "baseline-csv" and attempt == 0:
            refs[rows] = load_reference(out, stats)
        if not keep:
            shutil.rmtree(out, ignore_errors=True)
    return result


def _check(c: Contender, rows: int, out: str, stats: dict, refs: dict) -> str:
    if c.check == "none":
        return "n/a (other tokens)"
    if c.key == "baseline-csv":
        return "reference"
    ref = refs.get(rows)
    if ref is None:
        return "n/a (no baseline run)"
    try:
        if c.check == "gate":
            problem = check_gate(ref, out, stats)
        else:
            problem = check_equal(ref, out, c.kind, stats)
    except Exception as error:  # a missing or unreadable output is a failure too
        problem = f"check failed: {type(error).__name__}: {error}"
    if problem:
        return f"DIFFERS: {problem}"
    return "same rows & tokens (k-anon. aside)" if c.check == "gate" else "identical"


# ------------------------------------------------------------------ reporting


def _fmt_rows(rows: int) -> str:
    return f"{rows:,}"


def table(results: list[Result], baselines: dict) -> str:
    lines = [
        "| contender | input | rows | wall s | runs s | work s | rows/s | peak MiB"
        " | x baseline | output |",
        "|---|---|---:|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in results:
        c = r.contender
        label = c.label + (
            f" (extrapolated from {r.extrapolated_from:,} rows)" if r.extrapolated_from else ""
        )
        if r.skipped or (r.error and not r.walls):
            lines.append(f"| {label} | {c.fmt} | {_fmt_rows(r.rows)} | - | - | - | - | - | - | "
                         f"{r.skipped or 'FAILED: ' + r.error} |")  # fmt: skip
            continue
        base = baselines.get((c.fmt, r.rows))
        ratio = f"{r.wall / base:.2f}" if base else "-"
        runs = " / ".join(f"{w:.2f}" for w in r.walls)
        work = f"{min(r.work):.2f}" if r.work else "-"
        lines.append(
            f"| {label} | {c.fmt} | {_fmt_rows(r.rows)} | {r.wall:.2f} | {runs} | {work} | "
            f"{r.rows / r.wall:,.0f} | {r.peak_mib:,.0f} | {ratio} | {r.check} |"
        )
    return "\n".join(lines)


def scaling_table(results: list[Result]) -> str:
    sizes = sorted({r.rows for r in results})
    head = "| contender | input | " + " | ".join(f"{s:,} rows: s / MiB" for s in sizes)
    lines = [head + " | peak ratio largest/500k |", "|---" * (len(sizes) + 3) + "|"]
    for key in SCALED:
        everything = {r.rows: r for r in results if r.contender.key == key}
        mine = {rows: r for rows, r in everything.items() if r.walls and not r.error}
        if not everything:
            continue
        contender = next(iter(everything.values())).contender
        label = f"{contender.label} | {contender.fmt}"
        cells = []
        for size in sizes:
            if size in mine:
                cells.append(f"{mine[size].wall:.2f} / {mine[size].peak_mib:,.0f}")
            elif size in everything and everything[size].error:
                peak = everything[size].peaks
                cells.append("FAILED" + (f" (peak {max(peak) / 2**20:,.0f} MiB)" if peak else ""))
            else:
                cells.append("-")
        ratio = "-"
        if 500_000 in mine and sizes and sizes[-1] in mine and sizes[-1] != 500_000:
            ratio = f"{mine[sizes[-1]].peak_mib / mine[500_000].peak_mib:.2f}"
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {ratio} |")
    return "\n".join(lines)


def targets(results: list[Result], scaled: list[Result], rows: int) -> list[str]:
    by = {r.contender.key: r for r in results if r.walls and r.rows == rows}
    out = []

    def line(ok: bool, text: str) -> None:
        out.append(f"- [{'x' if ok else ' '}] {text}")

    ours = by.get("pseudolab-nogate-csv-mem")
    base = by.get("baseline-csv")
    if ours and base:
        ratio = ours.wall / base.wall
        line(ratio <= 1.2, f"pseudolab (gate off, CSV, in-memory) ≤ 1.2 x baseline: {ratio:.2f} x")
    for key, factor, text in (
        ("pandas-vectorised", 1.0, "faster than vectorised pandas"),
        ("pandas-apply", 4.0, "≥ 4 x faster than pandas apply"),
        ("presidio", 20.0, "≥ 20 x faster than Presidio (extrapolated)"),
    ):
        if ours and key in by:
            speedup = by[key].wall / ours.wall
            line(speedup > factor if factor == 1.0 else speedup >= factor,
                 f"{text}: {speedup:.1f} x")  # fmt: skip
    for key in (
        "pseudolab-nogate-csv-mem",
        "pseudolab-gate-csv-mem",
        "pseudolab-nogate-parquet-mem",
    ):
        failed = [r for r in scaled if r.contender.key == key and r.error and r.rows > 500_000]
        for r in failed:
            peak = f", peak {max(r.peaks) / 2**20:,.0f} MiB" if r.peaks else ""
            line(False, f"{key}: FAILED at {r.rows:,} rows{peak}")
        mine = {r.rows: r for r in scaled if r.contender.key == key and r.walls and not r.error}
        if 500_000 in mine and len(mine) > 1:
            largest = max(mine)
            if largest > 500_000:
                ratio = mine[largest].peak_mib / mine[500_000].peak_mib
                line(ratio <= 1.2, f"{key}: peak memory at {largest:,} rows ≤ 1.2 x at 500,000:"
                                   f" {ratio:.2f} x")  # fmt: skip
    return out


def _versions() -> str:
    names = ("pseudolab", "apache-beam", "pyarrow", "pandas", "presidio-anonymizer")
    found = []
    for name in names:
        try:
            found.append(f"{name} {version(name)}")
        except PackageNotFoundError:
            found.append(f"{name} (not installed)")
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if "model name" in line)
    except (OSError, StopIteration):
        pass
    return (f"Python {platform.python_version()}, {', '.join(found)}; "
            f"{os.cpu_count()} CPUs ({cpu})")  # fmt: skip


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description="pseudolab against a pyarrow baseline and peers (see bench/README.md)"
    )
    parser.add_argument("--rows", type=int, help="rows of the main table (default 500,000)")
    parser.add_argument("--short", action="store_true", help="CI smoke test: 20,000 rows")
    parser.add_argument("--repeat", type=int, help="runs per contender, best kept (default 2)")
    parser.add_argument("--presidio-sample", type=int, help="rows Presidio processes")
    parser.add_argument("--scaling", default=",".join(str(s) for s in SCALING),
                        help="row counts of the scaling table (comma-separated)")  # fmt: skip
    parser.add_argument("--no-scaling", action="store_true")
    parser.add_argument("--only", help="comma-separated contender keys")
    parser.add_argument("--seed", type=int, default=0, help="sample seed (default 0)")
    parser.add_argument("--data-dir", help="keep samples here and reuse them between runs")
    parser.add_argument("--keep", action="store_true", help="keep the outputs of every run")
    parser.add_argument("--json", help="write the raw results here")
    args = parser.parse_args(argv)

    rows = args.rows or (20_000 if args.short else 500_000)
    repeat = args.repeat or (1 if args.short else 2)
    sample = args.presidio_sample or (1_000 if args.short else 20_000)
    chosen = [c for c in contenders() if not args.short or c.key in SHORT]
    if args.only:
        wanted = set(args.only.split(","))
        chosen = [c for c in chosen if c.key in wanted or c.key == "baseline-csv"]
    scaling = [] if (args.short or args.no_scaling) else [int(s) for s in args.scaling.split(",")]

    clock = time.perf_counter()
    root = args.data_dir or tempfile.mkdtemp(prefix="pseudolab-bench-")
    os.makedirs(root, exist_ok=True)
    ws = Workspace(root, args.seed)
    print(f"# pseudolab bench: {rows:,} rows{' (short)' if args.short else ''}", flush=True)
    print(f"{_versions()}; load average at start {_load()}\n", flush=True)

    refs: dict = {}
    results: list[Result] = []
    for c in chosen:
        print(f"  running {c.key} on {rows:,} rows ...", file=sys.stderr, flush=True)
        results.append(run_contender(c, rows, ws, repeat, sample, refs, args.keep))
    scaled = [r for r in results if r.contender.key in SCALED]
    for size in scaling:
        for c in (c for c in contenders() if c.key in SCALED):
            if size == rows and any(r.contender.key == c.key for r in results):
                continue
            print(f"  running {c.key} on {size:,} rows ...", file=sys.stderr, flush=True)
            scaled.append(run_contender(c, size, ws, repeat, sample, refs, args.keep))

    baselines = {
        (r.contender.fmt, r.rows): r.wall
        for r in results + scaled
        if r.contender.kind == "baseline" and r.walls
    }
    print(table(results, baselines))
    print(
        "\nwall s: best of the runs, measured from outside around the whole process (start-up"
        " and imports included); work s: measured inside the process after imports."
        " Peak: the process's max RSS, or the sampled sum over its process tree if larger."
        " x baseline: wall time over the baseline's with the same input format."
    )
    if scaled and scaling:
        print("\n## Scaling (Parquet out, DirectRunner in-memory)\n")
        print(scaling_table(scaled))
    met = [] if args.short else targets(results, scaled, rows)
    if met:
        print("\n## Targets (information only: timing never fails the bench)\n")
        print("\n".join(met))
    failures = list({id(r): r for r in results + scaled if r.error}.values())
    print(f"\nload average at end {_load()}; {time.perf_counter() - clock:.0f} s in all;"
          f" data in {root}")  # fmt: skip
    if args.json:
        with open(args.json, "w", encoding="utf-8") as handle:
            json.dump(
                [
                    {
                        "key": r.contender.key,
                        "rows": r.rows,
                        "walls": r.walls,
                        "peaks": r.peaks,
                        "work": r.work,
                        "stats": r.stats,
                        "check": r.check,
                        "error": r.error,
                        "skipped": r.skipped,
                    }
                    for r in {id(r): r for r in results + scaled}.values()
                ],
                handle,
                indent=1,
            )
    if not args.data_dir and not args.keep:
        shutil.rmtree(root, ignore_errors=True)
    for r in failures:
        print(f"FAILED {r.contender.key} ({r.rows:,} rows): {r.error}", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
