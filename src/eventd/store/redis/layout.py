"""Where a store lives in Redis: its keys under one namespace.

Every key carries the hash tag `{ns}`, so a store lives in one Redis Cluster slot and a Lua
script may touch all of it:

    {ns}:events                 hash   id -> the event as JSON
    {ns}:seq                    string the store-wide insertion counter
    {ns}:pos                    string the change feed's position counter
    {ns}:feed                   stream the change feed, one entry per position
    {ns}:epoch                  string the change feed's epoch (see Engine.feed_epoch)
    {ns}:t                      zset   every event
    {ns}:type:<type>            zset   events of one type
    {ns}:key:<key>              zset   events of one timeline key
    {ns}:tk:<len(type)>:<type>:<key>   events of one type and key
    {ns}:f:<field>:<digest>     zset   events with one value of one indexed field (the
                                       token of `store/where.py`: `<field>` names the path)
    {ns}:fields                 hash   indexed path key -> `building`, `ready` or `dropping`,
                                       and `#version` -> the set's version (`indexes.py`)
    {ns}:cursor-secret          string the secret that signs listing cursors (kept by clear)
    {ns}:rem:<state>            zset   reminders in one state (pending, sent, missed, cancelled)
    {ns}:rem:of:<id>            zset   one event's reminders, in every state
    {ns}:rem:pend:<id>          set    one event's pending reminders (what an edit reads)
    {ns}:rem:ix:<state>:t:<type>       zset   reminders in one state of one type,
    {ns}:rem:ix:<state>:k:<key>                of one key, and of both, the type's length
    {ns}:rem:ix:<state>:tk:<n>:<type>:<key>    counted in UTF-8 bytes as Lua counts it
    {ns}:rem:r:<member>         hash   one reminder's record: state, ts, armed, type, key,
                                       sent_at, late, position (`packing.reminder`)

Every sorted-set member has score 0 and reads `TTTTTTTTTTTTTTTTTT:SSSSSSSSSSSSSSSSSSSS:<id>`
(`packing.member`): the timestamp shifted to be non-negative and the seq, zero-padded, so that
lexicographic order is `(ts, seq)` order for years 1 to 9999 at microsecond precision with no
limit on the number of events (a float score would hold neither). Reminders' members are
ordered the same way, as `(due, event_id, offset)` (`packing.reminder_member`).
"""

from __future__ import annotations

from eventd.model import Event
from eventd.store.base import Query, ReminderState


class Keys:
    """The key names of one store."""

    def __init__(self, namespace: str) -> None:
        self.ns = "{" + namespace + "}"
        self.pattern = f"{self.ns}:*"
        self.events = f"{self.ns}:events"
        self.all = f"{self.ns}:t"
        self.seq = f"{self.ns}:seq"
        self.pos = f"{self.ns}:pos"
        self.feed = f"{self.ns}:feed"
        self.epoch = f"{self.ns}:epoch"
        self.cursor_secret = f"{self.ns}:cursor-secret"
        self.fields = f"{self.ns}:fields"
        # A clear keeps these: seq and the feed keep growing, so cursors and positions stay
        # unique; the epoch is renewed with the `cleared` change; the indexed fields stay
        # indexed (their indexes go with the events).
        self.kept = frozenset(
            (self.seq, self.pos, self.feed, self.cursor_secret, self.epoch, self.fields)
        )
        self.reminders = f"{self.ns}:rem:"  # the prefix of every reminder key
        self.pending = self.in_state("pending")
        self.cancelled = self.in_state("cancelled")

    def in_state(self, state: ReminderState) -> str:
        """Return the sorted set of the reminders in `state`."""
        return f"{self.reminders}{state}"

    def reminders_filed(self, state: ReminderState, type: str | None, key: str | None) -> str:
        """Return the sorted set of the reminders in `state` of that type and key (None: any),
        named as remind.lua's `filed_in` names it."""
        base = f"{self.reminders}ix:{state}:"
        if type is not None and key is not None:
            return f"{base}tk:{len(type.encode())}:{type}:{key}"
        if type is not None:
            return f"{base}t:{type}"
        if key is not None:
            return f"{base}k:{key}"
        return self.in_state(state)

    def reminders_of(self, id: str) -> str:
        """Return the sorted set of an event's reminders (named as remind.lua names it)."""
        return f"{self.reminders}of:{id}"

    def indexes(self, event: Event, tokens: list[str]) -> list[str]:
        """Return the index keys an event belongs to, besides the all-events one, given the
        tokens of its indexed fields' values."""
        keys = [f"{self.ns}:type:{event.type}"]
        if event.key is not None:
            keys.append(f"{self.ns}:key:{event.key}")
            keys.append(f"{self.ns}:tk:{len(event.type)}:{event.type}:{event.key}")
        keys += [self.by_value(token) for token in tokens]
        return keys

    def by_value(self, token: str) -> str:
        """Return the index of the events with one value of one indexed field."""
        return f"{self.ns}:f:{token}"

    def field_pattern(self, field_id: str) -> str:
        """Return the pattern of every index of one indexed field (see `where.field_id`)."""
        return f"{self.ns}:f:{field_id}:*"

    def index_for(self, query: Query) -> str:
        """Return the index that holds exactly the events `query`'s filters select."""
        if query.type is not None and query.key is not None:
            return f"{self.ns}:tk:{len(query.type)}:{query.type}:{query.key}"
        if query.type is not None:
            return f"{self.ns}:type:{query.type}"
        if query.key is not None:
            return f"{self.ns}:key:{query.key}"
        return self.all
