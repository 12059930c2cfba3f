"""Imports flow one way: schemas <- transforms <- pipeline; Beam stays out of schemas."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FORBIDDEN = {
    "schemas": {"transforms", "pipeline", "apache_beam"},
    "transforms": {"pipeline"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_imports_flow_one_way(package):
    offenders = {
        str(path.relative_to(ROOT)): sorted(_imports(path) & FORBIDDEN[package])
        for path in (ROOT / package).rglob("*.py")
        if _imports(path) & FORBIDDEN[package]
    }
    assert offenders == {}


def test_operations_have_no_beam():
    beam_users = [
        str(path.relative_to(ROOT))
        for path in (ROOT / "transforms").rglob("*.py")
        if "apache_beam" in _imports(path)
    ]
    assert sorted(beam_users) == ["transforms/beam.py", "transforms/privacy/beam.py"]


def test_the_installed_version_is_the_package_version():
    from importlib.metadata import PackageNotFoundError, version

    import pipeline

    try:
        installed = version("pseudolab")
    except PackageNotFoundError:
        pytest.skip("pseudolab is not installed")
    assert installed == pipeline.__version__
