"""Reporting's domain: the monthly report aggregate, counting rules, stages, labels and errors (pure, no I/O)."""
