"""Queues of independent items (SLA checks, auto-closes, reports): no bad one stops the rest."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from typing import TypeVar

log = logging.getLogger("maild.jobs")
T = TypeVar("T")


def each(items: Iterable[T], fn: Callable[[T], int | bool], what: str) -> int:
    """Sum of ``fn(item)`` over the items; an item that raises is logged with its reason
    (and retried by the next run, as its work was rolled back) and the next one goes on."""
    total = 0
    for item in items:
        try:
            total += int(fn(item))
        except Exception as exc:
            log.exception("%s %s failed: %s: %s; the others go on", what, item,
                          type(exc).__name__, exc)
    return total
