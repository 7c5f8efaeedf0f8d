"""The package version (its own module, so that submodules need not import ``sim`` itself)."""

__version__ = "0.1.0"
