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


# Measured with bench/gc_pauses.py on a memory store of 600,000 events: a full collection
# took 0.66-0.82 s of wall time, 0.40-0.46 s with start-up's objects frozen (0.21 s with the
# whole store frozen, as after a restart on a full store).
#
# The thresholds stay CPython's (700, 10, 10). A full collection runs only once the objects
# that survived the younger generations exceed a quarter of the long-lived ones: none ran
# during a 100,000-event import into that store. The longest young collections walk the
# containers of a batch that are young at once (100,000 items each): a higher threshold lets
# more of them pile up before one runs; lower ones (200 or 3 instead of 700 or 10) did not
# shorten them either.


def freeze_startup() -> int:
    """Collect what start-up left as garbage, then freeze every object that remains (the
    collector no longer walks them); return how many were frozen."""
    # Collected first: garbage frozen would never be freed.
    gc.collect()
    gc.freeze()
    frozen = gc.get_freeze_count()
    log.debug("the garbage collector froze %d objects made during start-up", frozen)
    return frozen
