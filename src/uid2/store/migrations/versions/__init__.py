"""Alembic revision scripts (loaded by file name; this marker makes them package data)."""
