"""pseudolab's pipeline: options, IO, preflight, publishing and the command line."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("pseudolab")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0+unknown"
