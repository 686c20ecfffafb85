"""The registry's entrypoints room: the HTTP API, the scheduler and the operator CLI (they only translate)."""
