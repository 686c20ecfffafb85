"""What talks to PostgreSQL: the inbox, the read models and their reducers, queries, exports, the report index."""
