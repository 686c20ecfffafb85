"""The registry's application room: the event store, the ports, and the use cases composed by `Registry`."""
