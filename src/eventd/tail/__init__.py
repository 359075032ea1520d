"""`eventd tail`: the daemon's live feed in a terminal, one line per change, or NDJSON.

`options` reads and checks the command line, `lines` turns feed messages into lines,
`follow` keeps the subscriptions alive (through `eventd.client.Subscriber`) and prints.
"""
