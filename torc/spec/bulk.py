"""Support for allocating the many small objects a large sweep expands into."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector for a bulk build of acyclic data.

    Each new dict or list counts towards the collector's thresholds, so building hundreds of
    thousands of records triggers full collections that rescan the ever-growing heap and
    roughly double the run time. The records reference no cycles, so nothing is lost by
    deferring collection; it resumes (if it was on) when the block exits.
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
