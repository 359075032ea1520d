"""eventd: a daemon for timestamped events."""

__version__ = "0.1.0"
