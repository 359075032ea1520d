"""The MongoDB engine, on motor. Every motor and pymongo call of eventd lives in this package.

One document per event:

    {_id: id, t: <int64 microseconds>, seq: <int64>, time: <BSON date, milliseconds>,
     type, key, title, description, value, data: <JSON text>, remind: [seconds] | null,
     created: <int64 µs>, updated: <int64 µs>, v: <version for compare-and-set>,
     rem: [{o: offset seconds, d: due µs, a: armed µs}], rn: <the least d; absent if none>}

`t` is the exact timestamp that orders and is answered; `time` is a BSON date for people and
TTL indexes (BSON dates hold milliseconds only). `data` is kept as JSON text so that every
JSON value comes back exactly as stored (BSON has no arbitrary-size integers, and would
reorder nothing but could change number types). `seq` comes from a counter document that
reserves one block per batch.

Reminders (`reminders.py`): the pending ones are the `rem` entries of their event's document,
so a write arms and cancels them atomically with the event; `rn` is indexed with `_id`, and the
next due time and the due reminders are found through that index. A reminder that is no longer
pending is a record in `<collection>_reminders`, unique by `(e, t, o)` (event id, timestamp,
offset): inserting it is the claim, and only one daemon's insert succeeds. A `sent` record
keeps `h` (a lease, µs) until its feed entry is in; the record holds that entry and its
position, the entry's `_id`, so that however many claims finish it, one insert succeeds.
"""

from eventd.store.mongo.documents import from_document, to_document
from eventd.store.mongo.engine import MongoEngine

__all__ = ["MongoEngine", "from_document", "to_document"]
