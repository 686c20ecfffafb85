"""Reporting's use cases: reading (ledgers, dashboards, timelines, BI) and monthly reports, with the ports they need."""
