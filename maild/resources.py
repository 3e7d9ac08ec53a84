"""The templates, example rules and example config that ship inside the package.

``maild/_shipped/`` holds them: in a source checkout as symlinks to the top-level
``templates/``, ``rules/`` and ``config.example.toml`` (the source of truth), in an
installed wheel as real copies. So ``maild demo`` and ``maild init`` work from any
directory, and notification templates a configuration does not override come from here.
"""

from __future__ import annotations

from pathlib import Path

SHIPPED = Path(__file__).resolve().parent / "_shipped"


def shipped_dir(name: str) -> Path:
    """The shipped ``templates`` or ``rules`` directory (or ``config.example.toml``)."""
    path = SHIPPED / name
    if not path.exists():
        raise FileNotFoundError(f"{path}: missing from the maild package (a broken install: "
                                f"reinstall maild)")
    return path.resolve()
