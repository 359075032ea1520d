"""The garbage collector's settings for a serving daemon: start-up's objects are frozen.

Only `eventd serve` calls this (process-wide settings do not belong to a library the tests
import). Cyclic garbage collection holds the loop for as long as it walks the objects it
tracks; a full collection walks them all, large containers included (the engine's and the
projections' dicts of every event), so it grows with the store. The objects made during
start-up (the app, the opened store, the statistics and transitions rebuilt from it) live
as long as the daemon: frozen, no collection walks them again.
"""

from __future__ import annotations

import gc
import logging

log = logging.getLogger("eventd")


# The thresholds stay CPython's (700, 10, 10). A full collection runs only once the objects
# that survived the younger generations exceed a quarter of the long-lived ones, and none ran
# during a 100,000-event import into a store of 500,000 (bench/gc_pauses.py). The longest
# young collections walk large young lists of ints (sorted index chunks, a batch's keys): a
# higher threshold lets them grow more before one runs, it does not shorten it.


def freeze_startup() -> int:
    """Collect what start-up left as garbage, then freeze every object that remains (the
    collector no longer walks them); return how many were frozen."""
    # Collected first: garbage frozen would never be freed.
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("the garbage collector froze %d objects made during start-up", frozen)
    return frozen
