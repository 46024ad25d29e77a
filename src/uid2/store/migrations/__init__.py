"""Alembic revisions of the control-plane schema (shipped as package data)."""
