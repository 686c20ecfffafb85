"""The registry's adapters room: read models, the contract mapping, sealing and data keys, files, bulk writes."""
