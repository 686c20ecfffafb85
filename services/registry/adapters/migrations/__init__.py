"""registry's schema migrations (Alembic revisions, raw SQL), oldest first."""
