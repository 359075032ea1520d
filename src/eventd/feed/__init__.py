"""The change feed: the hub that tails the store, replays, and feed-fed state."""
