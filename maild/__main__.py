"""``python -m maild`` runs the command line."""

from maild.cli import entry

raise SystemExit(entry())
