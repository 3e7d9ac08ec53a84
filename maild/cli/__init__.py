"""The command line (docs/REFERENCE §7)."""

from maild.cli.main import main

__all__ = ["main"]
