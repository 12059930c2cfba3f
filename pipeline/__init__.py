"""pseudolab's pipeline: options, IO, preflight, publishing and the command line."""

# The one place the version is written: pyproject.toml reads it from here. (Asking
# importlib.metadata instead costs 50 ms at every start.)
__version__ = "0.1.0"
