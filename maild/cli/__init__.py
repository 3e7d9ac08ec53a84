"""The command line (docs/REFERENCE §7)."""

from maild.cli.main import entry, main

__all__ = ["entry", "main"]
