"""Fixtures of the `eventd tail` tests."""

import signal

# A shell without job control starts a background command with SIGINT ignored, and `eventd
# tail` inherits that through every exec; the tests that press Ctrl-C need it to arrive. A
# handler of this process's own is reset to the default in the children it starts.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)
