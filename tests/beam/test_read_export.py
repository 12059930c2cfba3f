"""ReadExport: its settings are checked when the pipeline is built, not mid-run."""

from __future__ import annotations

import pytest

from pipeline.io import ReadExport, ReadSettings


@pytest.mark.parametrize(
    ("columns", "read_columns", "message"),
    [
        ((), None, "no columns"),
        (("a", "b"), ("c",), "some of the columns"),
        (("a", "b"), (), "some of the columns"),
    ],
)
def test_bad_settings_are_refused_at_construction(columns, read_columns, message) -> None:
    settings = ReadSettings(columns, ";", "utf-8", read_columns)
    with pytest.raises(ValueError, match=message):
        ReadExport(settings)


def test_good_settings() -> None:
    assert ReadExport(ReadSettings(("a", "b"), ";", "utf-8", ("b",)))
    assert ReadExport(ReadSettings(("a", "b"), ";", "utf-8"))
