"""The sub-commands behind `pseudolab`; each returns an exit code.

Each imports what only it needs when it runs: Beam for `run` and `demo` alone, pyarrow
for the commands that read inputs, so that the others start in a fraction of the time.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
from collections import Counter
from contextlib import suppress

from pipeline.report import REPORT_NAME, summary_lines
from schemas.errors import UsageError
from schemas.model import action_name
from transforms.keyring import add_primary_key, destroy_key, load_keyring, write_new_keyring

REFERENCE_POLICY = "lab-export-v1"


def command_run(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.run import RunRequest, execute  # Beam: only `run` and `demo` import it

    request = RunRequest(
        policy=args.policy,
        inputs=args.input,
        output=args.output,
        keyring=args.keyring,
        input_format=args.format,
        encoding=args.encoding,
        max_rejected_ratio=args.max_rejected_ratio,
        beam_args=beam_args,
    )
    report = execute(request)
    print("\n".join(summary_lines(report, os.path.abspath(args.output))))
    return 0


def command_check(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.preflight import check_inputs, expand_inputs, resolve_policy

    policy = resolve_policy(args.policy)
    actions = Counter(action_name(rule.action) for rule in policy.columns)
    detail = ", ".join(f"{n} {action}" for action, n in sorted(actions.items()))
    print(f"policy {policy.name} {policy.version} ok: {len(policy.columns)} columns ({detail})")
    print(f"sha256 {policy.sha256}")
    if args.input:
        inputs = expand_inputs(args.input, args.format)
        check_inputs(policy, inputs, args.encoding or policy.input.encoding)
        for source in inputs:
            print(f"input {source.path} ({source.format}): header matches the policy")
    return 0


def command_keygen(args: argparse.Namespace, beam_args: list[str]) -> int:
    key_id = write_new_keyring(args.output)
    print(f"keyring {os.path.abspath(args.output)} written (mode 0600), primary key {key_id}")
    print("keep it on the source system only; back it up: tokens cannot be remade without it")
    return 0


def command_sample(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.sample import write_sample

    summary = write_sample(args.output, rows=args.rows, seed=args.seed, encoding=args.encoding)
    print(
        f"sample {os.path.abspath(args.output)}: {summary.rows:,} rows, "
        f"{summary.patients:,} patients, {summary.requests:,} requests "
        "(synthetic data, reference format lab-export-v1)"
    )
    return 0


def command_reidentify(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.preflight import resolve_policy
    from pipeline.reidentify import default_audit_log, reidentify

    policy = resolve_policy(args.policy)
    keyring = load_keyring(args.keyring)
    audit_log = args.audit_log or default_audit_log(args.keyring)
    if args.input:
        with open(args.input, encoding="utf-8") as handle:
            tokens = handle.read().splitlines()
    else:
        tokens = sys.stdin.read().splitlines()
    values = reidentify(policy, keyring, args.column, tokens, audit_log)
    text = "".join(("" if value is None else value) + "\n" for value in values)
    if args.output:
        descriptor = os.open(args.output, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
            handle.write(text)
    else:
        sys.stdout.write(text)
    print(f"{len(values)} line(s) re-identified; audited in {audit_log}", file=sys.stderr)
    return 0


def command_rotate(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.preflight import resolve_policy
    from pipeline.rotate import build_crosswalk

    policy = resolve_policy(args.policy)
    keyring = load_keyring(args.keyring)
    counts = build_crosswalk(
        policy, keyring, args.input, args.output, from_key=args.from_key, encoding=args.encoding
    )
    detail = ", ".join(f"{column} {n:,}" for column, n in sorted(counts.items()))
    print(f"crosswalk {os.path.abspath(args.output)} to key {keyring.primary_id}: {detail}")
    return 0


def command_key(args: argparse.Namespace, beam_args: list[str]) -> int:
    if args.action == "add":
        old, new = add_primary_key(args.keyring)
        print(f"key {new} is now primary; {old} is retired (it still decrypts and rotates)")
    elif args.action == "destroy":
        if not args.id:
            raise UsageError("pseudolab key destroy needs --id")
        destroy_key(args.keyring, args.id)
        print(f"key {args.id} destroyed: what only it could decrypt is gone for good")
    keyring = load_keyring(args.keyring)
    for key_id in [key.key_id for key in keyring.keys] + sorted(keyring.destroyed):
        state = (
            "primary"
            if key_id == keyring.primary_id
            else "retired"
            if key_id in keyring.retired
            else "destroyed"
            if key_id in keyring.destroyed
            else "active"
        )
        print(f"{key_id}  {state}")
    return 0


def command_report(args: argparse.Namespace, beam_args: list[str]) -> int:
    path = os.path.join(args.directory, REPORT_NAME)
    try:
        with open(path, encoding="utf-8") as handle:
            report = json.load(handle)
    except (OSError, ValueError):
        raise UsageError(f"{path} is missing or not a pseudolab report") from None
    print("\n".join(summary_lines(report, os.path.abspath(args.directory))))
    for detail in report.get("column_details", []):
        target = f" -> {detail['output']}" if detail.get("output") else ""
        print(f"  {detail['input']}: {detail['action']}{target} ({detail['detail']})")
    return 0


def command_demo(args: argparse.Namespace, beam_args: list[str]) -> int:
    from pipeline.run import RunRequest, execute
    from pipeline.sample import write_sample

    workdir = tempfile.mkdtemp(prefix="pseudolab-demo-")
    output = args.output or os.path.join(workdir, "output")
    scratch = os.path.join(workdir, "scratch")
    os.mkdir(scratch, 0o700)
    try:
        export = os.path.join(scratch, "lab-export.csv")
        keyring = os.path.join(scratch, "keyring.json")
        write_sample(export, rows=args.rows, seed=args.seed)
        write_new_keyring(keyring)
        print(f"demo: {args.rows:,} synthetic rows, a throwaway key, the {REFERENCE_POLICY} policy")
        report = execute(
            RunRequest(
                policy=REFERENCE_POLICY,
                inputs=[export],
                output=output,
                keyring=keyring,
                beam_args=beam_args,
            )
        )
    finally:
        shutil.rmtree(scratch, ignore_errors=True)  # the clear sample and the key
        with suppress(OSError):
            os.rmdir(workdir)  # empty unless the output is in it
    print("\n".join(summary_lines(report, os.path.abspath(output))))
    kept = [name for name, action in report["columns"].items() if action != "drop"]
    print(f"published columns: {', '.join(report['outputs'])}")
    print(f"from input columns: {', '.join(kept)}")
    return 0
