"""Running as a service: the notify protocol (`notify`), the watchdog task (`watchdog`),
reloads on SIGHUP (`reload`), and the `Service` that `eventd serve` wraps its app in."""
