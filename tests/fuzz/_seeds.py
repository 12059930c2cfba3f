"""Seed corpora and dictionaries for the fuzz targets.

libFuzzer mutates seeds it is given far better than it invents a CSV export or a policy
from nothing: each target adds a seed corpus and a token dictionary to its command line
unless given ones. They live in one directory per target under the system's temporary
directory, replaced at each start (libFuzzer exits without running Python's exit
handlers, so nothing could remove them; reusing one directory keeps them from piling up).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from collections.abc import Iterable


def _write(directory: str, items: Iterable[tuple[str, bytes]]) -> None:
    for name, data in items:
        with open(os.path.join(directory, name), "wb") as handle:
            handle.write(data)


def with_seeds(
    name: str, argv: list[str], seeds: dict[str, bytes], dictionary: list[bytes]
) -> list[str]:
    """`argv` plus a seed corpus directory and a `-dict=` file, unless given.

    An empty corpus directory named on the command line gets the seeds.
    """
    argv = list(argv)
    named = [arg for arg in argv[1:] if not arg.startswith("-")]
    if named:
        if os.path.isdir(named[0]) and not os.listdir(named[0]):
            _write(named[0], seeds.items())  # a new corpus directory starts from the seeds
        workdir = None
    else:
        workdir = os.path.join(tempfile.gettempdir(), f"pseudolab-fuzz-{name}-{os.getuid()}")
        shutil.rmtree(workdir, ignore_errors=True)
        os.makedirs(os.path.join(workdir, "corpus"), mode=0o700)
        _write(os.path.join(workdir, "corpus"), seeds.items())
        argv.append(os.path.join(workdir, "corpus"))
    if not any(arg.startswith("-dict=") for arg in argv[1:]):
        if workdir is None:
            workdir = tempfile.mkdtemp(prefix=f"pseudolab-fuzz-{name}-dict-")
        path = os.path.join(workdir, "tokens.dict")
        with open(path, "w", encoding="ascii") as handle:
            for token in dictionary:
                escaped = "".join(
                    chr(b) if 0x20 <= b < 0x7F and b not in (0x22, 0x5C) else f"\\x{b:02X}"
                    for b in token
                )
                handle.write(f'"{escaped}"\n')
        argv.append(f"-dict={path}")
    if workdir is not None:
        print(f"fuzz: seeds and dictionary in {workdir}", file=sys.stderr)
    return argv


def scratch_file(suffix: str) -> str:
    """A path for the fuzzed bytes that leaves nothing behind: an anonymous memory file
    where the system has them (Linux), else a temporary file."""
    if hasattr(os, "memfd_create") and os.path.isdir("/proc/self/fd"):
        descriptor = os.memfd_create(f"pseudolab-fuzz{suffix}")
        return f"/proc/self/fd/{descriptor}"
    descriptor, path = tempfile.mkstemp(prefix="pseudolab-fuzz-", suffix=suffix)
    os.close(descriptor)
    return path
