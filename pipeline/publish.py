"""Publishing: everything is written to a private staging directory and renamed last.

A failed or killed run leaves no output directory. A lock next to the output keeps
two runs from writing the same directory; the kernel releases it if a run dies.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
from types import TracebackType

from schemas.errors import UsageError

SUCCESS_MARKER = "_SUCCESS"


def _is_empty_dir(path: str) -> bool:
    return os.path.isdir(path) and not os.listdir(path)


class Staging:
    """Context manager: a staging directory beside `output`, published by `publish()`."""

    def __init__(self, output: str, run_id: str):
        self.output = os.path.abspath(output)
        self.parent = os.path.dirname(self.output)
        name = os.path.basename(self.output)
        if not name:
            raise UsageError("the output must name a directory")
        self._prefix = os.path.join(self.parent, f".{name}.pseudolab-staging-")
        self._lock_path = os.path.join(self.parent, f".{name}.pseudolab-lock")
        self.path = self._prefix + run_id
        self._lock_fd: int | None = None
        self.published = False

    def __enter__(self) -> Staging:
        os.makedirs(self.parent, exist_ok=True)
        self._lock()
        self._refuse_existing_output()
        for stale in glob.glob(glob.escape(self._prefix) + "*"):
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed run
        os.mkdir(self.path, 0o700)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if not self.published:
            shutil.rmtree(self.path, ignore_errors=True)
        self._unlock()

    def _lock(self) -> None:
        descriptor = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(descriptor)
            raise UsageError(f"another pseudolab run is writing {self.output}") from None
        self._lock_fd = descriptor

    def _unlock(self) -> None:
        if self._lock_fd is not None:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None

    def _refuse_existing_output(self) -> None:
        if os.path.lexists(self.output) and not _is_empty_dir(self.output):
            self._unlock()
            raise UsageError(f"output {self.output} already exists: choose a new directory")

    def publish(self) -> None:
        """Mark success and move the staging directory into place, atomically."""
        with open(os.path.join(self.path, SUCCESS_MARKER), "w", encoding="utf-8"):
            pass
        _fsync_tree(self.path)
        self._refuse_existing_output()
        os.rename(self.path, self.output)
        self.published = True
        _fsync_dir(self.parent)


def _fsync_dir(path: str) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def _fsync_tree(root: str) -> None:
    for directory, _, files in os.walk(root):
        for name in files:
            descriptor = os.open(os.path.join(directory, name), os.O_RDONLY)
            try:
                os.fsync(descriptor)
            finally:
                os.close(descriptor)
        _fsync_dir(directory)
