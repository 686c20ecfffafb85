"""How the world reaches reporting: the HTTP API (api/), the projection consumer, the month-end scheduler, the CLI."""
