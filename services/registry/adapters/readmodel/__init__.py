"""The registry's read model: rows and events (`rows.py`), on PostgreSQL (`postgres.py`), in memory (`memory.py`)."""
