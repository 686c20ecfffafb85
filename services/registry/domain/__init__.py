"""The registry's domain room: aggregates, value rules and domain errors. Pure: no I/O, no settings, no logging."""
