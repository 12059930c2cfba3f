"""Start-up: the command imports Beam without pandas, which it never uses."""

from __future__ import annotations

import subprocess
import sys

import pytest

CHECK = """
import sys
from pipeline.cli import _import_beam_quietly
_import_beam_quietly()
import pyarrow as pa
pa.array(["x"])  # pyarrow's first look for pandas happened during the import
assert "apache_beam" in sys.modules
assert "pandas" not in sys.modules, "pandas was imported"
assert not any(type(f).__name__ == "_NoPandas" for f in sys.meta_path)
import pandas  # still importable by whoever needs it
print("ok", pa.Table.from_pydict({"a": [1]}).to_pandas().shape)
"""


def test_beam_is_imported_without_pandas_which_stays_importable() -> None:
    pytest.importorskip("pandas")
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.strip() == "ok (1, 1)"
