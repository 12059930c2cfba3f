"""The fuzz targets here are atheris programs, run by hand: pytest must not import them."""

collect_ignore_glob = ["fuzz_*.py"]
