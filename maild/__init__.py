"""maild: an email-driven IT helpdesk daemon."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("maild")  # the installed distribution's version (pyproject.toml)
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0+unknown"
