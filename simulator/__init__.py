"""Province simulator (issue 7): `baoxue simulate`."""
