"""Where the shipped templates/ and rules/ are: next to the config, the cwd, or the checkout."""

from __future__ import annotations

from pathlib import Path

CHECKOUT = Path(__file__).resolve().parent.parent


def shipped_dir(name: str) -> Path:
    """The ``templates`` or ``rules`` directory of the working tree maild runs from."""
    for base in (Path.cwd(), CHECKOUT):
        if (base / name).is_dir():
            return base / name
    raise FileNotFoundError(
        f"cannot find the {name}/ directory: run maild from its source checkout "
        f"(or set [paths] {name} in config.toml)"
    )
