"""Reporting's benchmarks and its synthetic province (tools, not product): `baoxue bench --only reporting`
(``figures``), `baoxue bench reporting-rebuild` (``rebuild``), and the generated histories (``synthetic``)."""
