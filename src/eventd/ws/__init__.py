"""The WebSocket API: /ws subscriptions to the channels features register.

handler.py: the socket's lifecycle and the dispatch by `type`; connection.py: a socket's
queue, writer and subscriptions; frames.py: direct frame writes; protocol.py: the messages
and their bytes (only ws/ knows them); channels.py: the channel registry.
"""
