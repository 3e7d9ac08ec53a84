"""The command line (SPEC §7)."""

from maild.cli.main import main

__all__ = ["main"]
