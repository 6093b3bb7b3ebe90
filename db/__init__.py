"""Storage: SQLModel tables, engine and session setup, queries and migrations."""
