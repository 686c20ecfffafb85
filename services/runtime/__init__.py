"""What every Baoxue service runs on: settings, event store wiring, relay, consumer loop, logging,
metrics, auth, clock and the local infrastructure launchers."""
