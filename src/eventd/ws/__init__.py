"""The WebSocket API: /ws subscriptions to the change feed."""
