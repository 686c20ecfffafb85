"""The registry's benchmarks and generated data: a county of children (`county.py`), the import rate (`imports.py`)."""
